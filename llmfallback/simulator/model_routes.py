"""GET model routes: the non-billed calls the gateway's auth probes make (never a chat).

Shapes: OpenAI-compatible servers list models as {"object": "list", "data": [model objects]}
(https://console.groq.com/docs/api-reference#models-list adds context_window and active;
https://api-docs.deepseek.com/api/list-models); Gemini's models.get answers one Model resource
named "models/{model}" (https://ai.google.dev/api/models#method:-models.get). A refused key gets
the provider's own auth error, as its chat route would send it.
"""

import re

from . import behaviors
from .book import SimRequest
from .reply import compact, pretty

FIXED = {
    "/groq/openai/v1/models": "groq",
    "/deepseek/models": "deepseek",
    "/deepseek/v1/models": "deepseek",
}
GEMINI_MODEL = re.compile(r"^/gemini/v1beta/models/([^/:]+)$")
GENERIC_MODELS = re.compile(r"^/openai/([A-Za-z0-9_.-]+)/v1/models$")
CREATED = 1_700_000_000

GROQ_MODELS = ("llama-3.3-70b-versatile", "llama-3.1-8b-instant", "openai/gpt-oss-120b")
DEEPSEEK_MODELS = ("deepseek-chat", "deepseek-reasoner")


def route(path: str) -> tuple[str, str] | None:
    """(provider, model or "") for a GET model URL, else None."""
    if path in FIXED:
        return FIXED[path], ""
    if m := GEMINI_MODEL.match(path):
        return "gemini", m.group(1)
    if m := GENERIC_MODELS.match(path):
        return m.group(1), ""
    return None


def reply(provider: str, model: str, key: str | None, *, refused: bool):
    mod = behaviors.module_for(provider)
    req = SimRequest(provider=provider, model=model, body={}, key=key)
    if refused:
        return mod.auth(req, {})
    if mod.REQUIRES_KEY and not key:
        return mod.missing_key(req)
    if provider == "gemini":
        return pretty(200, _gemini_model(model))
    return compact(200, {"object": "list", "data": _listed(provider)})


def _listed(provider: str) -> list[dict]:
    if provider == "groq":
        return [
            {
                "id": name,
                "object": "model",
                "created": CREATED,
                "owned_by": "Meta" if name.startswith("llama") else "OpenAI",
                "active": True,
                "context_window": 131072,
                "public_apps": None,
                "max_completion_tokens": 32768,
            }
            for name in GROQ_MODELS
        ]
    if provider == "deepseek":
        return [{"id": n, "object": "model", "owned_by": "deepseek"} for n in DEEPSEEK_MODELS]
    return [{"id": provider, "object": "model", "created": CREATED, "owned_by": "local"}]


def _gemini_model(model: str) -> dict:
    return {
        "name": f"models/{model}",
        "baseModelId": model,
        "version": "001",
        "displayName": model.replace("-", " ").title(),
        "description": "Simulated Gemini model.",
        "inputTokenLimit": 1048576,
        "outputTokenLimit": 65536,
        "supportedGenerationMethods": ["generateContent", "countTokens"],
        "temperature": 1,
        "topP": 0.95,
        "topK": 64,
        "maxTemperature": 2,
        "thinking": True,
    }
