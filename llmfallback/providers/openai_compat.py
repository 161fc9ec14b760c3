"""OpenAI-compatible chat/completions: Groq, DeepSeek, Ollama, vLLM, llama.cpp, OpenRouter."""

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

from . import capabilities, openai_wire, retry_hints
from .base import HTTPProvider
from .openai_stream import OpenAIStream
from .reply import Reply, classify_status
from .shapes import as_count, as_dict, as_str, as_text, first_dict
from .signals import check_text, is_billing, is_context_overflow, is_unmeetable

# Groq names its daily limits in the 429 text; OpenRouter says "free-models-per-day".
# https://console.groq.com/docs/rate-limits
_DAILY_MARKERS = ("per day", "per-day", "(tpd)", "(rpd)")
# Not the caller's mistake though they come as 400s: the key, the org or the configured model.
_AUTH_CODES = frozenset({"model_decommissioned", "model_not_found", "organization_restricted"})
_PAGE_SCAN = 64 * 1024  # an error page's title and gist are near its top


class OpenAICompatible(HTTPProvider):
    """POST {base_url}/chat/completions with a Bearer key (no header when the key is empty)."""

    kind = "openai"

    stream_usage = True  # ask for the usage chunk; a server that rejects it can turn it off

    def __init__(
        self,
        *,
        max_tokens_field: str = "max_tokens",
        capabilities=capabilities.ALL,
        prefix_beta: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        # Groq deprecated max_tokens for max_completion_tokens.
        # https://console.groq.com/docs/api-reference#chat-create
        self.max_tokens_field = max_tokens_field
        self.capabilities = frozenset(capabilities)
        # DeepSeek continues a prefill only on its beta path, with "prefix": true on the
        # assistant message. https://api-docs.deepseek.com/guides/chat_prefix_completion
        self.prefix_beta = prefix_beta

    def url(self) -> str:
        return f"{self.base_url}/chat/completions"

    def headers(self, key: ApiKey) -> dict[str, str]:
        return {"Authorization": f"Bearer {key.secret}"} if key.secret else {}

    def probe_url(self) -> str:
        # GET /models lists models for any valid key and is not billed (OpenAI, Groq, DeepSeek,
        # vLLM, Ollama and llama.cpp serve it). https://console.groq.com/docs/api-reference#models
        return f"{self.base_url}/models"

    def payload(self, request: ChatRequest) -> dict:
        return openai_wire.request_body(
            request,
            model=self.model,
            max_tokens_field=self.max_tokens_field,
            prefill_flag="prefix" if self.prefix_beta else None,
        )

    def stream_url(self) -> str:
        return self.url()

    def stream_url_for(self, request: ChatRequest) -> str:
        if request.prefill and self.prefix_beta:
            base = self.base_url.removesuffix("/v1")
            return f"{base}/beta/chat/completions"
        return self.stream_url()

    def stream_payload(self, request: ChatRequest) -> dict:
        # include_usage: the last chunk carries usage (OpenAI, Groq, DeepSeek, vLLM, Ollama).
        options = {"stream_options": {"include_usage": True}} if self.stream_usage else {}
        return self.payload(request) | {"stream": True} | options

    def stream_parser(self):
        return OpenAIStream(self.model)

    def parse(self, reply: Reply, request: ChatRequest) -> Completion:
        data = _json_or_invalid(reply)
        if isinstance(data, dict) and data.get("error"):
            # Some gateways report upstream failures inside a 200 body.
            message, code, _ = openai_wire.error_fields(data) or (as_text(data["error"]), None, "")
            raise Unavailable(f"error in 200 body: {message}", status=reply.status, code=code)
        choice = first_dict(as_dict(data).get("choices"))
        if choice is None:
            raise InvalidResponse("200 without choices", status=reply.status)
        finish = as_str(choice.get("finish_reason"))
        if finish == "content_filter":
            raise ContentFiltered("answer blocked (finish_reason content_filter)", code=finish)
        message = as_dict(choice.get("message"))
        content = openai_wire.message_text(message.get("content"))
        refusal = as_str(message.get("refusal"))
        if refusal and not (content or "").strip():
            # OpenAI's model declined this prompt: content null, the reason in "refusal".
            raise ContentFiltered(f"answer refused: {refusal}", status=reply.status, code="refusal")
        calls = openai_wire.tool_calls_in(message)
        if not calls:  # an answer that calls tools may carry no text at all
            check_text(content, request, finish)
        return Completion(
            content,
            as_str(data.get("model")) or self.model,
            openai_wire.usage_of(data),
            finish,
            tool_calls=calls,
            id=as_str(data.get("id")) or "",
            created=as_count(data.get("created")) or None,
        )

    def raise_for_response(self, reply: Reply) -> None:
        raise classify(reply, now=self.wallclock())


def classify(reply: Reply, *, now: float) -> ProviderError:
    """The ProviderError an OpenAI-compatible error reply stands for."""
    try:
        data = reply.json()
    except ValueError:
        data = None
    fields = openai_wire.error_fields(data) if data is not None else None
    if fields is None:
        return _classify_page(reply, now=now)
    message, code, said = fields
    kw = {"status": reply.status, "code": code}
    status = reply.status
    if status >= 500 or status in (408, 498):  # the provider's own trouble, whatever it says
        return _by_status(reply, message, now=now, **kw)
    if is_context_overflow(said):
        return BadRequest(message, too_large=True, **kw)
    if status == 402 or is_billing(said) or is_unmeetable(said):
        # No wait: a short Retry-After on a spent balance would only hammer it.
        return QuotaExceeded(message, **kw)
    if status == 413:  # Groq: the request alone is over the tier's tokens per minute
        return BadRequest(message, too_large=True, **kw)
    if code in ("content_filter", "content_policy_violation"):  # Azure OpenAI, OpenAI
        return ContentFiltered(message, **kw)
    if code == "json_validate_failed":  # Groq: this request's JSON answer failed validation
        return InvalidResponse(message, request_only=True, **kw)
    if status in (401, 403, 404) or code in _AUTH_CODES:
        return AuthFailed(message, **kw)
    if status == 400 and "api key" in said and ("invalid" in said or "incorrect" in said):
        return AuthFailed(message, **kw)  # xAI-style "Incorrect API key provided" as a 400
    if status == 429:
        return _classify_429(reply, message, said, now=now, **kw)
    if status in (400, 422):
        return BadRequest(message, **kw)
    return _by_status(reply, message, now=now, **kw)


def _classify_429(reply: Reply, message: str, said: str, *, now: float, **kw) -> ProviderError:
    wait = retry_hints.from_headers(reply.headers, now=now) or retry_hints.from_message(message)
    if any(m in said for m in _DAILY_MARKERS):
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
    return classify_status(reply, message, now=now, otherwise=Unavailable)


def _page_summary(text: str) -> str:
    """The <title> of an HTML page, else the start of the text with whitespace collapsed."""
    head = text[:_PAGE_SCAN]
    lowered = head.lower()
    start, end = lowered.find("<title>"), lowered.find("</title>")
    if 0 <= start < end:
        return head[start + 7 : end].strip()[:200]
    return " ".join(head.split())[:200]


def _json_or_invalid(reply: Reply):
    try:
        return reply.json()
    except ValueError:
        raise InvalidResponse("200 with a body that is not JSON", status=reply.status) from None
