"""A fully read provider reply, and what its status alone says when its body says nothing."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import httpx

from llmfallback.core.errors import (
    AuthFailed,
    BadRequest,
    InvalidResponse,
    ProviderError,
    ProviderTimeout,
    QuotaExceeded,
    RateLimited,
    Unavailable,
    UnknownError,
)

from . import retry_hints


@dataclass(frozen=True, slots=True)
class Reply:
    """A fully read HTTP response: what subclasses parse and classify."""

    status: int
    headers: httpx.Headers
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        """The body as JSON, skipping keep-alive blank lines and ': comment' lines.

        Raises ValueError for anything that is not JSON we can hold, very deep nesting included.
        """
        lines = self.text.splitlines(keepends=True)
        start = 0
        while start < len(lines) and (not lines[start].strip() or lines[start].startswith(":")):
            start += 1
        try:
            return loads("".join(lines[start:]))
        except RecursionError:  # '[[[[…' a few thousand deep exhausts the decoder's stack
            raise ValueError("JSON nested too deeply") from None


# Only a \uD800-\uDFFF escape can put a surrogate in decoded JSON; a valid pair becomes one
# character, so any surrogate left after decoding is a lone one.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONE = re.compile("[\ud800-\udfff]")


def loads(text: str):
    """json.loads for provider text, with every lone UTF-16 surrogate (an emoji cut at
    max_tokens) replaced by U+FFFD: what we pass on must encode as UTF-8 for the caller."""
    data = json.loads(text)
    return _mended(data) if _SURROGATE_ESCAPE.search(text) else data


def _mended(data):
    """`data` (fresh from json.loads, ours to change) with lone surrogates replaced; iterative,
    so as deep as the decoder went."""
    if isinstance(data, str):
        return _LONE.sub("\ufffd", data)
    stack = [data]
    while stack:
        node = stack.pop()
        items = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
        for at, value in items:
            if isinstance(value, str):
                node[at] = _LONE.sub("\ufffd", value)
            elif isinstance(value, dict | list):
                stack.append(value)
            if isinstance(at, str) and _LONE.search(at):
                node[_LONE.sub("\ufffd", at)] = node.pop(at)
    return data


def unreadable(reply: Reply, exc: BaseException, *, now: float) -> ProviderError:
    """The error for a reply whose body broke the adapter: classified by its status alone."""
    message = f"HTTP {reply.status} reply the adapter could not read ({type(exc).__name__})"
    return classify_status(reply, message, now=now, otherwise=InvalidResponse)


def classify_status(
    reply: Reply, message: str, *, now: float, otherwise: type[ProviderError] = UnknownError
) -> ProviderError:
    """What a status means when the body says nothing usable (a page, a proxy, garbage)."""
    status, kw = reply.status, {"status": reply.status}
    if status in (408, 504):
        return ProviderTimeout(message, **kw)
    if status == 413:  # the request itself was too large: a later provider may take it
        return BadRequest(message, too_large=True, **kw)
    if status == 422:
        # The request's own fault however it is worded: DeepSeek answers a body it cannot
        # deserialize with a text/plain 422 "Failed to deserialize the JSON body into the
        # target type: ...". Never a cooldown: the next caller's request may be fine.
        return BadRequest(message, **kw)
    if status == 401:
        return AuthFailed(message, **kw)
    if status == 402:
        return QuotaExceeded(message, **kw)
    wait = retry_hints.from_headers(reply.headers, now=now)
    if status == 429:
        return RateLimited(message, retry_after=wait, **kw)
    if status == 498 or status >= 500:  # 498: Groq's flex tier at capacity
        return Unavailable(message, retry_after=wait, **kw)
    return otherwise(message, **kw)
