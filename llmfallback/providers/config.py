"""Provider configuration from environment variables (a plain mapping: no Django here)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from llmfallback.core.ports import ApiKey, Provider
from llmfallback.core.routing import Route, parse_routes

from . import capabilities
from .gemini import Gemini
from .openai_compat import OpenAICompatible

DEFAULT_PRIORITY = "groq,gemini,deepseek"

# name -> (kind, base_url, model, key required)
KNOWN = {
    "groq": ("openai", "https://api.groq.com/openai/v1", "llama-3.3-70b-versatile", True),
    "gemini": (
        "gemini",
        "https://generativelanguage.googleapis.com/v1beta",
        "gemini-2.5-flash",
        True,
    ),
    "deepseek": ("openai", "https://api.deepseek.com", "deepseek-chat", True),
}


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """One provider as configured. Its repr shows key labels only (ApiKey hides secrets)."""

    name: str
    kind: str
    base_url: str
    model: str
    keys: tuple[ApiKey, ...]
    missing: str = ""
    capabilities: frozenset[str] = capabilities.ALL  # what a request may need of it


def parse_provider_configs(env: Mapping[str, str]) -> list[ProviderConfig]:
    """Read LLM_PROVIDER_PRIORITY and each provider's <NAME>_BASE_URL/_MODEL/_API_KEY."""
    names = (env.get("LLM_PROVIDER_PRIORITY") or DEFAULT_PRIORITY).lower().split(",")
    unique = dict.fromkeys(n.strip() for n in names if n.strip())
    return [_config(name, env) for name in unique]


def parse_route_configs(
    env: Mapping[str, str], configs: list[ProviderConfig]
) -> tuple[dict[str, Route], str | None]:
    """(LLM_ROUTES, LLM_DEFAULT_ROUTE): the named routes over `configs`, and the one `auto`
    means (None: every enabled provider in the operators' order). ValueError says what is wrong."""
    routes = parse_routes(env.get("LLM_ROUTES", ""), models={c.name: c.model for c in configs})
    default = env.get("LLM_DEFAULT_ROUTE", "").strip() or None
    if default is not None and default not in routes:
        raise ValueError(f"LLM_DEFAULT_ROUTE: {default!r} is not a route of LLM_ROUTES")
    return routes, default


def build_providers(configs, client: httpx.Client, **kwargs) -> list[Provider]:
    """Adapters for `configs`, all sharing one httpx.Client (kwargs: clock, wallclock)."""
    return [_provider(c, client, **kwargs) for c in configs]


def _config(name: str, env: Mapping[str, str]) -> ProviderConfig:
    prefix = name.upper().replace("-", "_").replace(".", "_")
    base_url = env.get(f"{prefix}_BASE_URL", "").strip()
    model = env.get(f"{prefix}_MODEL", "").strip()
    keys = _keys(env.get(f"{prefix}_API_KEY", ""))
    kind, default_url, default_model, key_required = KNOWN.get(name, ("openai", "", "", False))
    if name == "deepseek" and base_url:
        key_required = False  # a self-hosted or simulated DeepSeek (the seed: localhost:7100)
    missing = [
        f"{prefix}_{var}"
        for var, value in (("BASE_URL", base_url or default_url), ("MODEL", model or default_model))
        if not value
    ]
    if key_required and not keys:
        missing.append(f"{prefix}_API_KEY")
    return ProviderConfig(
        name=name,
        kind=kind,
        base_url=(base_url or default_url).rstrip("/"),
        model=model or default_model,
        keys=keys or (ApiKey("default"),),
        missing=", ".join(missing),
        capabilities=capabilities.capabilities_from_env(name, prefix, env),
    )


def _keys(raw: str) -> tuple[ApiKey, ...]:
    # Labels are positional ("k1", "k2"): never derived from the secret itself.
    secrets = [s.strip() for s in raw.split(",") if s.strip()]
    return tuple(ApiKey(f"k{i}", secret) for i, secret in enumerate(secrets, start=1))


def _provider(config: ProviderConfig, client: httpx.Client, **kwargs) -> Provider:
    common = dict(
        name=config.name,
        base_url=config.base_url,
        model=config.model,
        keys=config.keys,
        missing=config.missing,
        capabilities=config.capabilities,
        client=client,
        **kwargs,
    )
    if config.kind == "gemini":
        return Gemini(**common)
    if config.name == "groq":
        return OpenAICompatible(max_tokens_field="max_completion_tokens", **common)
    if config.name == "deepseek":
        return OpenAICompatible(prefix_beta=True, **common)
    return OpenAICompatible(**common)
