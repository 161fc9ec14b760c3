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
from llmfallback.core.types import ChatRequest, Completion, Usage

from . import retry_hints
from .base import HTTPProvider, Reply
from .openai_compat import check_text
from .openai_compat import classify as classify_generic

# Finish reasons that mean the answer was withheld, not merely cut short.
# https://ai.google.dev/api/generate-content#FinishReason
BLOCKED = frozenset(
    {"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "RECITATION", "SPII", "IMAGE_SAFETY"}
)
_TYPE = "type.googleapis.com/google.rpc."


class Gemini(HTTPProvider):
    """POST {base_url}/models/{model}:generateContent, key in x-goog-api-key only."""

    kind = "gemini"

    def url(self) -> str:
        # Never put the key in the URL: URLs end up in logs and exception texts.
        return f"{self.base_url}/models/{self.model}:generateContent"

    def headers(self, key: ApiKey) -> dict[str, str]:
        return {"x-goog-api-key": key.secret}

    def payload(self, request: ChatRequest) -> dict:
        system = [m.content for m in request.messages if m.role == "system"]
        body = {
            "contents": [
                {
                    "role": "model" if m.role == "assistant" else "user",
                    "parts": [{"text": m.content}],
                }
                for m in request.messages
                if m.role != "system"
            ],
            "generationConfig": {
                "temperature": request.temperature,
                "maxOutputTokens": request.max_tokens,
            },
        }
        if system:
            body["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
        if request.json_mode:
            body["generationConfig"]["responseMimeType"] = "application/json"
        return body

    def parse(self, reply: Reply, request: ChatRequest) -> Completion:
        try:
            data = reply.json()
        except ValueError:
            raise InvalidResponse("200 with a body that is not JSON", status=200) from None
        if not isinstance(data, dict):
            raise InvalidResponse("200 with a JSON body that is not an object", status=200)
        if data.get("error"):
            raise Unavailable(f"error in 200 body: {data['error']}", status=200)
        block = (data.get("promptFeedback") or {}).get("blockReason")
        if block:
            raise ContentFiltered(f"prompt blocked ({block})", status=200, code=block)
        candidate = _first_candidate(data)
        finish = candidate.get("finishReason")
        text = _text(candidate)
        if finish in BLOCKED and not text.strip():
            raise ContentFiltered(f"answer blocked ({finish})", status=200, code=finish)
        check_text(text, request, finish)
        model = data.get("modelVersion") or self.model
        return Completion(text, model, _usage(data), finish)

    def raise_for_response(self, reply: Reply) -> None:
        raise classify(reply, now=self.wallclock())


def classify(reply: Reply, *, now: float) -> ProviderError:
    """The ProviderError a Gemini error reply stands for."""
    error = _error_object(reply)
    if error is None:  # an HTML or text page from a proxy: same rules as everywhere
        return classify_generic(reply, now=now)
    message = str(error.get("message") or "")
    status_name = str(error.get("status") or "")
    details = [d for d in error.get("details") or [] if isinstance(d, dict)]
    reasons = {d.get("reason") for d in details if d.get("@type") == _TYPE + "ErrorInfo"}
    code = next((r for r in reasons if r), None) or status_name or None
    kw = {"status": reply.status, "code": code}
    if "API_KEY_INVALID" in reasons or reply.status in (401, 403):
        return AuthFailed(message, **kw)  # bad key is a 400; 403 covers leaked/suspended keys
    if status_name in ("PERMISSION_DENIED", "UNAUTHENTICATED", "FAILED_PRECONDITION"):
        return AuthFailed(message, **kw)  # FAILED_PRECONDITION: "User location is not supported"
    if reply.status == 404 or status_name == "NOT_FOUND":
        return AuthFailed(message, **kw)  # unknown or retired model: fix the configuration
    if reply.status == 429 or status_name == "RESOURCE_EXHAUSTED":
        return _classify_exhausted(message, details, now=now, **kw)
    if "input token count" in message.lower() and "exceeds the maximum" in message.lower():
        return BadRequest(message, too_large=True, **kw)
    if reply.status in (408, 504) or status_name == "DEADLINE_EXCEEDED":
        return ProviderTimeout(message, **kw)
    if reply.status >= 500 or status_name in ("UNAVAILABLE", "INTERNAL"):
        return Unavailable(
            message, retry_after=retry_hints.from_headers(reply.headers, now=now), **kw
        )
    if reply.status == 400 or status_name == "INVALID_ARGUMENT":
        return BadRequest(message, **kw)
    return UnknownError(message, **kw)


def _classify_exhausted(message: str, details: list[dict], *, now: float, **kw) -> ProviderError:
    quota_ids = [
        str(v.get("quotaId", ""))
        for d in details
        if d.get("@type") == _TYPE + "QuotaFailure"
        for v in d.get("violations") or []
        if isinstance(v, dict)
    ]
    if any("PerDay" in q for q in quota_ids):
        # A per-day quota still carries a short retryDelay; honouring it would hammer a key
        # that cannot answer before the daily reset at midnight Pacific.
        return QuotaExceeded(message, retry_after=retry_hints.until_pacific_midnight(now), **kw)
    return RateLimited(message, retry_after=_retry_delay(details, message), **kw)


def _retry_delay(details: list[dict], message: str) -> float | None:
    """RetryInfo.retryDelay ("37s"), else the "Please retry in 20.04s" text."""
    for d in details:
        if d.get("@type") == _TYPE + "RetryInfo":
            delay = retry_hints.protobuf_duration(d.get("retryDelay"))
            if delay is not None:
                return delay
    return retry_hints.from_message(message)


def _error_object(reply: Reply) -> dict | None:
    try:
        data = reply.json()
    except ValueError:
        return None
    if isinstance(data, list) and data:
        data = data[0]  # some Google front ends wrap the error in a one-element array
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else None


def _first_candidate(data: dict) -> dict:
    candidates = data.get("candidates")
    if not candidates or not isinstance(candidates[0], dict):
        raise InvalidResponse("200 without candidates", status=200)
    return candidates[0]


def _text(candidate: dict) -> str:
    # Join only answer text: skip thought summaries; thoughtSignature rides on text parts.
    parts = (candidate.get("content") or {}).get("parts") or []
    return "".join(
        p["text"]
        for p in parts
        if isinstance(p, dict) and isinstance(p.get("text"), str) and not p.get("thought")
    )


def _usage(data: dict) -> Usage:
    meta = data.get("usageMetadata") or {}
    prompt = int(meta.get("promptTokenCount") or 0)
    # Thinking tokens are billed as output: count them as completion tokens.
    completion = int(meta.get("candidatesTokenCount") or 0) + int(
        meta.get("thoughtsTokenCount") or 0
    )
    return Usage(prompt, completion, int(meta.get("totalTokenCount") or prompt + completion))
