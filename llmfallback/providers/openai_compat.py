"""OpenAI-compatible chat/completions: Groq, DeepSeek, Ollama, vLLM, llama.cpp, OpenRouter."""

from __future__ import annotations

import json

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

# Groq names its daily limits in the 429 text; OpenAI says "insufficient_quota".
# https://console.groq.com/docs/rate-limits
_DAILY_MARKERS = ("per day", "(tpd)", "(rpd)", "insufficient_quota", "exceeded your current quota")
# OpenAI/Groq code, DeepSeek and vLLM text ("This model's maximum context length is ...").
_CONTEXT_MARKERS = ("context_length_exceeded", "maximum context length", "context window")


class OpenAICompatible(HTTPProvider):
    """POST {base_url}/chat/completions with a Bearer key (no header when the key is empty)."""

    kind = "openai"

    def __init__(self, *, max_tokens_field: str = "max_tokens", **kwargs) -> None:
        super().__init__(**kwargs)
        # Groq deprecated max_tokens for max_completion_tokens.
        # https://console.groq.com/docs/api-reference#chat-create
        self.max_tokens_field = max_tokens_field

    def url(self) -> str:
        return f"{self.base_url}/chat/completions"

    def headers(self, key: ApiKey) -> dict[str, str]:
        return {"Authorization": f"Bearer {key.secret}"} if key.secret else {}

    def payload(self, request: ChatRequest) -> dict:
        body = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "temperature": request.temperature,
            self.max_tokens_field: request.max_tokens,
            "stream": False,
        }
        if request.json_mode:
            body["response_format"] = {"type": "json_object"}
        return body

    def parse(self, reply: Reply, request: ChatRequest) -> Completion:
        data = _json_or_invalid(reply)
        if isinstance(data, dict) and data.get("error"):
            # Some gateways report upstream failures inside a 200 body.
            message, code = _error_fields(data)
            raise Unavailable(f"error in 200 body: {message}", status=reply.status, code=code)
        choice = _first_choice(data)
        finish = choice.get("finish_reason")
        if finish == "content_filter":
            raise ContentFiltered("answer blocked (finish_reason content_filter)", code=finish)
        content = (choice.get("message") or {}).get("content")
        check_text(content, request, finish)
        return Completion(content, data.get("model") or self.model, _usage(data), finish)

    def raise_for_response(self, reply: Reply) -> None:
        raise classify(reply, now=self.wallclock())


def classify(reply: Reply, *, now: float) -> ProviderError:
    """The ProviderError an OpenAI-compatible error reply stands for."""
    try:
        data = reply.json()
    except ValueError:
        data = None
    fields = _error_fields(data) if data is not None else None
    if fields is None:
        return _classify_page(reply, now=now)
    message, code = fields
    kw = {"status": reply.status, "code": code}
    status, lowered = reply.status, f"{code} {message}".lower()
    if any(m in lowered for m in _CONTEXT_MARKERS):
        return BadRequest(message, too_large=True, **kw)
    if code == "json_validate_failed":  # Groq: the model's JSON failed validation
        return InvalidResponse(message, **kw)
    if status in (401, 403, 404) or code in ("model_decommissioned", "model_not_found"):
        return AuthFailed(message, **kw)
    if status == 400 and "api key" in lowered and ("invalid" in lowered or "incorrect" in lowered):
        return AuthFailed(message, **kw)  # xAI-style "Incorrect API key provided" as a 400
    if status in (402, 413):  # DeepSeek "Insufficient Balance"; Groq request over tier TPM
        return QuotaExceeded(message, **kw)
    if status == 429:
        return _classify_429(reply, message, lowered, now=now, **kw)
    if status in (400, 422):
        return BadRequest(message, **kw)
    return _by_status(reply, message, now=now, **kw)


def _classify_429(reply: Reply, message: str, lowered: str, *, now: float, **kw) -> ProviderError:
    wait = retry_hints.from_headers(reply.headers, now=now) or retry_hints.from_message(message)
    if any(m in lowered for m in _DAILY_MARKERS):
        # Groq's daily limits are rolling windows: its "try again in" is the real wait.
        return QuotaExceeded(message, retry_after=wait, **kw)
    return RateLimited(message, retry_after=wait, **kw)


def _by_status(reply: Reply, message: str, *, now: float, **kw) -> ProviderError:
    if reply.status in (408, 504):
        return ProviderTimeout(message, **kw)
    if reply.status == 498 or reply.status >= 500:  # 498: Groq flex tier at capacity
        return Unavailable(
            message, retry_after=retry_hints.from_headers(reply.headers, now=now), **kw
        )
    return UnknownError(message, **kw)


def _classify_page(reply: Reply, *, now: float) -> ProviderError:
    # An HTML page (Cloudflare 502) or plain text ("503 Service Unavailable") from an edge.
    message = f"HTTP {reply.status}: {_page_summary(reply.text)}"
    kw = {"status": reply.status}
    if reply.status == 429:
        return RateLimited(
            message, retry_after=retry_hints.from_headers(reply.headers, now=now), **kw
        )
    if reply.status == 401:
        return AuthFailed(message, **kw)
    if reply.status in (408, 504):
        return ProviderTimeout(message, **kw)
    return Unavailable(message, retry_after=retry_hints.from_headers(reply.headers, now=now), **kw)


def _page_summary(text: str) -> str:
    """The <title> of an HTML page, else the first 200 characters of text."""
    lowered = text.lower()
    start, end = lowered.find("<title>"), lowered.find("</title>")
    if 0 <= start < end:
        return text[start + 7 : end].strip()
    return " ".join(text.split())[:200]


def _error_fields(data) -> tuple[str, str | None] | None:
    """(message, code) from the error shapes seen in the wild; None if `data` is no error."""
    if isinstance(data, list) and data:
        data = data[0]  # Gemini's OpenAI-compatible endpoint wraps errors in an array
    if not isinstance(data, dict):
        return None
    error = data.get("error")
    if error is None and data.get("object") == "error":
        error = data  # vLLM: {"object":"error","message":...,"code":400}
    if isinstance(error, str):
        return error, None  # Ollama's native shape: {"error": "model not found"}
    if not isinstance(error, dict):
        return None
    code = error.get("code")
    if not isinstance(code, str):  # vLLM and Gemini put the HTTP status number there
        code = error.get("type") or error.get("status") or code
    return str(error.get("message") or error), None if code is None else str(code)


def _json_or_invalid(reply: Reply):
    try:
        return reply.json()
    except ValueError:
        raise InvalidResponse("200 with a body that is not JSON", status=reply.status) from None


def _first_choice(data) -> dict:
    choices = data.get("choices") if isinstance(data, dict) else None
    if not choices or not isinstance(choices[0], dict):
        raise InvalidResponse("200 without choices", status=200)
    return choices[0]


def check_text(content, request: ChatRequest, finish: str | None) -> None:
    """Raise InvalidResponse unless `content` is usable text (valid JSON in json_mode)."""
    if not isinstance(content, str) or not content.strip():
        # DeepSeek answers whitespace when JSON mode fails; a reasoning model may spend
        # its whole budget thinking. https://api-docs.deepseek.com/guides/json_mode
        raise InvalidResponse(f"no text in the answer (finish_reason {finish})", status=200)
    if request.json_mode:
        try:
            json.loads(content)
        except ValueError:
            raise InvalidResponse("json_mode answer is not valid JSON", status=200) from None


def _usage(data: dict) -> Usage:
    usage = data.get("usage") or {}
    return Usage(
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        total_tokens=int(usage.get("total_tokens") or 0),
    )
