"""What a provider's words mean, whatever wire format carried them.

Both adapters read error texts and answers through these: billing blocks, quotas of zero and
context overflows are worded alike by OpenAI-compatible servers and by Gemini.
"""

from __future__ import annotations

import json
import re

from llmfallback.core.errors import InvalidResponse
from llmfallback.core.types import ChatRequest

# OpenAI/Groq code, DeepSeek and vLLM text ("This model's maximum context length is ...").
_CONTEXT_MARKERS = ("context_length_exceeded", "maximum context length", "context window")
# Billing blocks and spend caps, as OpenAI/Groq (insufficient_quota, billing_not_active,
# billing_hard_limit_reached), DeepSeek ("Insufficient Balance"), OpenRouter ("requires more
# credits"), xAI ("used all available credits or reached its monthly spending limit") and
# Gemini ("Please enable billing", "without a billing account linked") word them. Not the bare
# word "billing": Groq links its billing page from every rate-limit message, and Gemini's
# per-minute 429 says "check your plan and billing details".
_BILLING = re.compile(
    r"insufficient[_ ](?:quota|balance|credits?|funds)|billing[_ ](?:not[_ ]active|disabled)"
    r"|billing[_ ]hard[_ ]limit|enable billing|billing account|billing to be enabled"
    r"|spend(?:ing)?[_ -](?:limit|cap)|credit balance|out of credits|(?:more|available) credits"
)
# "Limit 0, Requested 1" (Groq, OpenAI), "limit: 0, model: gemini-2.5-pro" (Gemini).
_ZERO_LIMIT = re.compile(r"\blimit:? 0(?![\d.])")
_OUT_OF_TOKENS = frozenset({"length", "MAX_TOKENS"})  # OpenAI's and Gemini's words for it


def is_context_overflow(said: str) -> bool:
    """OpenAI/Groq code, DeepSeek and vLLM text ("This model's maximum context length is")."""
    return any(m in said for m in _CONTEXT_MARKERS)


def is_billing(said: str) -> bool:
    """A spent balance, a spend cap or billing switched off: no wait of minutes will help."""
    return _BILLING.search(said) is not None


def is_unmeetable(said: str) -> bool:
    """A quota of zero on this tier ("Limit 0", "limit: 0"): no request can ever fit."""
    return _ZERO_LIMIT.search(said) is not None


def check_text(content: str | None, request: ChatRequest, finish: str | None) -> None:
    """Raise InvalidResponse unless `content` is usable text (valid JSON in json_mode).

    Failures of this one answer (max_tokens spent before any text, JSON mode not honoured)
    are `request_only`: the next provider is tried and this one does not cool down.
    """
    if content is None or not content.strip():
        if finish in _OUT_OF_TOKENS:
            # A reasoning model may spend its whole budget thinking: the request's own limit.
            raise InvalidResponse(
                f"max_tokens ran out before any text (finish_reason {finish})",
                status=200,
                request_only=True,
            )
        if request.json_mode and content is not None:
            # DeepSeek answers whitespace when JSON mode fails.
            # https://api-docs.deepseek.com/guides/json_mode
            raise InvalidResponse("json_mode answer is blank", status=200, request_only=True)
        raise InvalidResponse(f"no text in the answer (finish_reason {finish})", status=200)
    if request.json_mode and not _is_json(content):
        raise InvalidResponse("json_mode answer is not valid JSON", status=200, request_only=True)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True
