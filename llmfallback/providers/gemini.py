"""Gemini's native generateContent API.

https://ai.google.dev/api/generate-content
"""

from __future__ import annotations

from llmfallback.core.errors import (
    AuthFailed,
    BadRequest,
    ContentFiltered,
    InvalidResponse,
    ProviderError,
    ProviderTimeout,
    QuotaExceeded,
    RateLimited,
    Unavailable,
    UnknownError,
)
from llmfallback.core.ports import ApiKey
from llmfallback.core.types import ChatRequest, Completion

from . import capabilities, gemini_wire, retry_hints
from .base import HTTPProvider
from .gemini_stream import GeminiStream
from .openai_compat import classify as classify_generic
from .reply import Reply
from .shapes import as_dict, as_list, as_str, as_text, first_dict
from .signals import check_text, is_billing, is_unmeetable

# Finish reasons that mean the answer was withheld, not merely cut short.
# https://ai.google.dev/api/generate-content#FinishReason
_TYPE = "type.googleapis.com/google.rpc."
# FAILED_PRECONDITION: "User location is not supported for the API use" (billing aside).
_AUTH_STATUSES = frozenset({"PERMISSION_DENIED", "UNAUTHENTICATED", "FAILED_PRECONDITION"})


class Gemini(HTTPProvider):
    """POST {base_url}/models/{model}:generateContent, key in x-goog-api-key only."""

    kind = "gemini"

    def url(self) -> str:
        # Never put the key in the URL: URLs end up in logs and exception texts.
        return f"{self.base_url}/models/{self.model}:generateContent"

    def headers(self, key: ApiKey) -> dict[str, str]:
        return {"x-goog-api-key": key.secret}

    def probe_url(self) -> str:
        # models.get: the configured model's metadata, free with any valid key.
        # https://ai.google.dev/api/models#method:-models.get
        return f"{self.base_url}/models/{self.model}"

    def __init__(self, *, capabilities=capabilities.ALL, **kwargs) -> None:
        super().__init__(**kwargs)
        self.capabilities = frozenset(capabilities)

    def payload(self, request: ChatRequest) -> dict:
        return gemini_wire.request_body(request, model=self.model)

    def stream_url(self) -> str:
        # alt=sse: Server-Sent Events; without it Google streams one JSON array.
        return f"{self.base_url}/models/{self.model}:streamGenerateContent?alt=sse"

    def stream_payload(self, request: ChatRequest) -> dict:
        return self.payload(request)

    def stream_parser(self):
        return GeminiStream(self.model)

    def parse(self, reply: Reply, request: ChatRequest) -> Completion:
        try:
            data = reply.json()
        except ValueError:
            raise InvalidResponse("200 with a body that is not JSON", status=200) from None
        if not isinstance(data, dict):
            raise InvalidResponse("200 with a JSON body that is not an object", status=200)
        if data.get("error"):
            raise Unavailable(f"error in 200 body: {as_text(data['error'])}", status=200)
        block = as_str(as_dict(data.get("promptFeedback")).get("blockReason"))
        if block:
            raise ContentFiltered(f"prompt blocked ({block})", status=200, code=block)
        candidate = first_dict(data.get("candidates"))
        if candidate is None:
            raise InvalidResponse("200 without candidates", status=200)
        finish = as_str(candidate.get("finishReason"))
        text = gemini_wire.answer_text(candidate)
        calls = gemini_wire.function_calls(candidate)
        if finish in gemini_wire.BLOCKED and not (text or "").strip() and not calls:
            raise ContentFiltered(f"answer blocked ({finish})", status=200, code=finish)
        if not calls:  # a turn that calls functions may carry no text at all
            check_text(text, request, finish)
        return Completion(
            text,
            as_str(data.get("modelVersion")) or self.model,
            gemini_wire.usage_of(data),
            gemini_wire.finish_reason(finish, called=bool(calls), blocked=gemini_wire.BLOCKED),
            tool_calls=calls,
            id=as_str(data.get("responseId")) or "",
        )

    def raise_for_response(self, reply: Reply) -> None:
        raise classify(reply, now=self.wallclock())


def classify(reply: Reply, *, now: float) -> ProviderError:
    """The ProviderError a Gemini error reply stands for."""
    error = _error_object(reply)
    if error is None:  # an HTML or text page from a proxy: same rules as everywhere
        return classify_generic(reply, now=now)
    message = as_text(error.get("message"))
    status_name = as_str(error.get("status")) or ""
    details = [d for d in as_list(error.get("details")) if isinstance(d, dict)]
    reasons = {r for d in details if _is(d, "ErrorInfo") and (r := as_str(d.get("reason")))}
    code = next(iter(sorted(reasons)), None) or status_name or None
    said = f"{status_name} {' '.join(reasons)} {message}".lower()
    kw = {"status": reply.status, "code": code}
    if "API_KEY_INVALID" in reasons:
        return AuthFailed(message, **kw)  # a bad key is a 400 INVALID_ARGUMENT
    if "input token count" in said and "exceeds the maximum" in said:
        return BadRequest(message, too_large=True, **kw)
    if reply.status == 413:
        return BadRequest(message, too_large=True, **kw)
    if reply.status < 500 and (
        reply.status == 402 or is_billing(said) or _zero_quota(details, said)
    ):
        # "Please enable billing", BILLING_DISABLED, a free tier of 0: hours, not RetryInfo's 30 s.
        return QuotaExceeded(message, **kw)
    if reply.status in (401, 403) or status_name in _AUTH_STATUSES:
        return AuthFailed(message, **kw)  # 403 covers leaked or suspended keys
    if reply.status == 404 or status_name == "NOT_FOUND":
        return AuthFailed(message, **kw)  # an unknown or retired model: fix the configuration
    if reply.status == 429 or status_name == "RESOURCE_EXHAUSTED":
        return _classify_exhausted(message, details, now=now, **kw)
    if reply.status in (408, 504) or status_name == "DEADLINE_EXCEEDED":
        return ProviderTimeout(message, **kw)
    if reply.status >= 500 or reply.status == 498 or status_name in ("UNAVAILABLE", "INTERNAL"):
        return Unavailable(
            message, retry_after=retry_hints.from_headers(reply.headers, now=now), **kw
        )
    if reply.status == 400 or status_name == "INVALID_ARGUMENT":
        return BadRequest(message, **kw)
    return UnknownError(message, **kw)


def _classify_exhausted(message: str, details: list[dict], *, now: float, **kw) -> ProviderError:
    quota_ids = [as_str(v.get("quotaId")) or "" for v in _violations(details)]
    if any("PerDay" in q for q in quota_ids):
        # A per-day quota still carries a short retryDelay; honouring it would hammer a key
        # that cannot answer before the daily reset at midnight Pacific.
        return QuotaExceeded(message, retry_after=retry_hints.until_pacific_midnight(now), **kw)
    return RateLimited(message, retry_after=_retry_delay(details, message), **kw)


def _zero_quota(details: list[dict], said: str) -> bool:
    """A quota of 0 on this tier (QuotaFailure quotaValue "0", or "limit: 0" in the text)."""
    return any(_is_zero(v.get("quotaValue")) for v in _violations(details)) or is_unmeetable(said)


def _is_zero(value) -> bool:
    if isinstance(value, str):
        return value.strip() == "0"  # int64 fields are JSON strings in Google's APIs
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0


def _violations(details: list[dict]) -> list[dict]:
    return [
        v
        for d in details
        if _is(d, "QuotaFailure")
        for v in as_list(d.get("violations"))
        if isinstance(v, dict)
    ]


def _retry_delay(details: list[dict], message: str) -> float | None:
    """RetryInfo.retryDelay ("37s"), else the "Please retry in 20.04s" text."""
    for d in details:
        if _is(d, "RetryInfo"):
            delay = retry_hints.protobuf_duration(d.get("retryDelay"))
            if delay is not None:
                return delay
    return retry_hints.from_message(message)


def _is(detail: dict, name: str) -> bool:
    return detail.get("@type") == _TYPE + name


def _error_object(reply: Reply) -> dict | None:
    try:
        data = reply.json()
    except ValueError:
        return None
    if isinstance(data, list) and data:
        data = data[0]  # some Google front ends wrap the error in a one-element array
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else None
