"""What a provider can do beyond plain chat, so a request it cannot serve skips it.

A skipped provider is never called and never cooled: the request asked for something it does
not offer, which says nothing about its health.
"""

from __future__ import annotations

from collections.abc import Mapping

TOOLS, JSON_OBJECT, JSON_SCHEMA = "tools", "json_object", "json_schema"
PENALTIES = "penalties"  # presence_penalty / frequency_penalty other than 0
TOOLS_WITH_JSON = "tools_with_json"  # tools and a JSON answer in one request
# Continues an assistant message left last (a prefill): how a stream broken mid-answer is
# continued on this provider (core/rescue.py). OpenAI-compatible servers take a trailing
# assistant message (Groq documents it as "prefilling"); DeepSeek through its beta prefix
# completion (https://api-docs.deepseek.com/guides/chat_prefix_completion).
PREFILL = "prefill"
ALL = frozenset({TOOLS, JSON_OBJECT, JSON_SCHEMA, PENALTIES, TOOLS_WITH_JSON, PREFILL})

DEFAULTS = {
    # DeepSeek's response_format takes only "text" and "json_object".
    # https://api-docs.deepseek.com/api/create-chat-completion
    "deepseek": ALL - {JSON_SCHEMA},
    # Gemini 2.5 answers 400 "Penalty is not enabled for models/gemini-2.5-flash"
    # (PublicAffairs/openai-gemini#63) and "Forced function calling (ANY mode) with a response
    # mime type: 'application/json' is unsupported" (vercel/ai google fixtures): a 400 would
    # end the whole request, so such requests skip it unless GEMINI_CAPABILITIES says otherwise.
    # A final "model" turn is not a prefill every Gemini model honours: restart and splice.
    "gemini": ALL - {PENALTIES, TOOLS_WITH_JSON, PREFILL},
}


def capabilities_from_env(name: str, prefix: str, env: Mapping[str, str]) -> frozenset[str]:
    """<PREFIX>_CAPABILITIES ("tools,json_object", or "none"), else the provider's default;
    then <PREFIX>_PREFILL (true/false), when set, adds or removes `prefill`."""
    raw = env.get(f"{prefix}_CAPABILITIES")
    if raw is None or not raw.strip():
        found = DEFAULTS.get(name, ALL)
    else:
        found = frozenset({c.strip().lower() for c in raw.split(",") if c.strip()} & ALL)
    prefill = (env.get(f"{prefix}_PREFILL") or "").strip().lower()
    if prefill in ("1", "true", "yes", "on"):
        return found | {PREFILL}
    if prefill in ("0", "false", "no", "off"):
        return found - {PREFILL}
    return found


def lacking(provider, needs: frozenset[str]) -> frozenset[str]:
    """What `needs` asks that `provider` does not offer (adapters without a set offer all)."""
    return needs - getattr(provider, "capabilities", ALL)
