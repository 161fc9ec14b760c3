"""The bodies of one exchange: the request encoded before any connection, the reply read
under the attempt budget and a size cap."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx

from llmfallback.core.errors import InvalidResponse, ProviderTimeout, RequestUnsendable
from llmfallback.core.types import ChatRequest, Timeouts

from .budget import Budget, ContentProgress

MAX_BODY = 8 * 1024 * 1024  # a chat answer is kilobytes; anything this big is not one


def encoded(payload_of: Callable[[ChatRequest], dict], request: ChatRequest) -> bytes:
    """The request body, built and encoded before any connection (as httpx's `json=`
    would). A body we cannot build or encode (a lone surrogate from a JavaScript client
    that cut a string inside an emoji) is no provider's failure: it is RequestUnsendable,
    never a ProviderError, so no provider is cooled, counted or escalated for it."""
    try:
        payload = payload_of(request)
    except Exception as e:  # noqa: BLE001 - our own code failed: still nobody's upstream
        raise RequestUnsendable(
            f"the request could not be built ({type(e).__name__})", caller_fault=False
        ) from None
    try:
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return text.encode("utf-8")
    except (UnicodeError, ValueError, TypeError) as e:
        raise RequestUnsendable(
            f"the request cannot be encoded as JSON text ({_reason(e)})", caller_fault=True
        ) from None


def _reason(e: Exception) -> str:
    """Why a body would not encode, without the caller's text (it may hold secrets)."""
    if isinstance(e, UnicodeEncodeError):
        return f"a lone UTF-16 surrogate, U+{ord(e.object[e.start]):04X}"
    return type(e).__name__


def read_body(
    response: httpx.Response, budget: Budget, timeouts: Timeouts, clock: Callable[[], float]
) -> bytes:
    # DeepSeek keeps a queued request alive with blank lines and ': keep-alive' comments
    # for up to 10 minutes. Bytes that carry no content are not progress: only content
    # pushes the idle limit (`read`) back, and the total holds whatever arrives.
    # https://api-docs.deepseek.com/quick_start/rate_limit
    budget.start_body(idle=timeouts.read)
    progress = ContentProgress()
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        now = clock()
        if budget.expired(now):
            raise ProviderTimeout(budget.timed_out())
        if progress.feed(chunk):
            budget.progressed(now)
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY:
            raise InvalidResponse("response body too large", status=response.status_code)
    if clock() >= budget.deadline:
        raise ProviderTimeout(budget.timed_out())
    return b"".join(chunks)
