"""The per-process runtime: the shared httpx.Client, the provider adapters built on it, the
health store and the operators' provider order, with the health rows they rest on."""

from __future__ import annotations

import copy
import hashlib
import threading
import time
from typing import NamedTuple

from django.conf import settings

from llmfallback.health.store import OrmHealthStore
from llmfallback.health.watch import health_watch

from .core.cooldown import CooldownPolicy
from .core.engine import EngineSettings
from .core.first_token import FirstTokenLimit
from .db_pool import db_release
from .models import KeyHealth, ProviderHealth
from .providers.config import build_providers
from .providers.transport import build_client
from .selectors import provider_secrets

_lock = threading.Lock()
_runtime = None


class _Runtime:
    """Per-process objects: one shared httpx.Client and the adapters built on it."""

    def __init__(self) -> None:
        # Every phase of a call (DNS, connect, TLS, headers, body) is bounded by its attempt budget.
        # As many idle upstream connections as threads may call at once: fewer, and at
        # hundreds of calls in flight most answers closed theirs and the next call reconnected.
        self.client = build_client(
            max_keepalive=max(64, settings.WEB_THREADS), before_send=db_release
        )
        self.providers = {p.name: p for p in build_providers(settings.LLM_PROVIDERS, self.client)}
        self.store = OrmHealthStore(
            secrets=provider_secrets(), success_flush_s=settings.LLM_SUCCESS_FLUSH_S
        )
        self.policy = CooldownPolicy()
        self.settings = EngineSettings(
            max_retries_per_provider=settings.LLM_MAX_RETRIES_PER_PROVIDER,
            deadline_s=settings.LLM_DEADLINE_S,
            attempt_timeout_s=settings.LLM_ATTEMPT_TIMEOUT_S,
            connect_timeout_s=settings.LLM_CONNECT_TIMEOUT_S,
            read_timeout_s=settings.LLM_READ_TIMEOUT_S,
            retry_backoff_s=settings.LLM_RETRY_BACKOFF_S,
            retry_wait_cap_s=settings.LLM_RETRY_WAIT_CAP_S,
            attempt_share=settings.LLM_ATTEMPT_SHARE,
            attempt_floor_s=settings.LLM_ATTEMPT_FLOOR_S,
            content_filter_fallback=settings.LLM_CONTENT_FILTER_FALLBACK,
            probe_interval_s=settings.LLM_PROBE_INTERVAL_S,
        )
        # Each provider's recent times to first token, kept per process for every stream.
        self.first_token = FirstTokenLimit(
            settings.LLM_FIRST_TOKEN_TIMEOUT_S,
            per_1k_tokens_s=settings.LLM_FIRST_TOKEN_PER_1K_TOKENS_S,
            p95_factor=settings.LLM_FIRST_TOKEN_P95_FACTOR,
        )
        self.order: _Order | None = None  # see provider_order
        self._for_model: dict[tuple[str, str], object] = {}
        provider_rows_sync()

    def for_model(self, provider, model: str | None):
        """`provider`'s adapter calling `model` (a route's): same name, keys, client and health."""
        if not model or model == provider.model:
            return provider
        key = (provider.name, model)
        if key not in self._for_model:  # a race builds two equal copies: harmless
            twin = copy.copy(provider)
            twin.model = model
            self._for_model[key] = twin
        return self._for_model[key]


def runtime() -> _Runtime:
    global _runtime
    if _runtime is None:
        with _lock:
            if _runtime is None:
                _runtime = _Runtime()
    return _runtime


def runtime_reset() -> None:
    """Forget the per-process runtime (tests change settings; the next call rebuilds it)."""
    global _runtime
    with _lock:
        if _runtime is not None:
            _runtime.client.close()
        _runtime = None


def provider_rows_sync() -> None:
    """Create or refresh health rows for the configured providers and keys.

    A reordered LLM_PROVIDER_PRIORITY resets the priorities to it; a key whose secret changed
    (same label, new fingerprint) starts clean: the configuration changed, so an earlier auth
    failure or cooldown no longer applies.
    """
    configs = settings.LLM_PROVIDERS
    rows = {r.name: r for r in ProviderHealth.objects.all()}
    reordered = any(
        rows.get(c.name) and rows[c.name].configured_rank != i for i, c in enumerate(configs)
    )
    for rank, config in enumerate(configs):
        row = (
            rows.get(config.name)
            or ProviderHealth.objects.get_or_create(
                name=config.name, defaults={"priority": rank, "configured_rank": rank}
            )[0]
        )
        if reordered:
            ProviderHealth.objects.filter(pk=row.pk).update(priority=rank, configured_rank=rank)
        for key in config.keys:
            key_row_sync(row, key.label, secret_fingerprint(key.secret))


def key_row_sync(provider: ProviderHealth, label: str, fingerprint: str) -> None:
    row, created = KeyHealth.objects.get_or_create(
        provider=provider, label=label, defaults={"fingerprint": fingerprint}
    )
    if not created and row.fingerprint != fingerprint:
        KeyHealth.objects.filter(pk=row.pk).update(
            fingerprint=fingerprint,
            is_unavailable=False,
            cooldown_until=None,
            consecutive_failures=0,
        )


def secret_fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:16] if secret else ""


ORDER_CACHE_S = 1.0


class _Order(NamedTuple):
    names: list[str]
    expires: float  # time.monotonic(), when the health watch is not heard
    version: int | None  # the health watch's version it was read at (HealthWatch.version)


def provider_order(rt: _Runtime) -> list[str]:
    """Enabled providers in priority order, kept per worker between reads.

    While PostgreSQL's notifications are heard (health_watch.py), read again only after a change
    to the providers' rows: enabling, priority, health. Otherwise (SQLite, the listener down, a
    transaction) at most once every ORDER_CACHE_S, so a reordering reaches every worker within
    it. Either way a disabled provider is skipped at once: the engine reads each key's state
    per call.
    """
    watch = health_watch()
    version = watch.version() if watch is not None else None  # before the read: no change lost
    now = time.monotonic()
    kept = rt.order
    if kept is not None and (
        kept.version == version if version is not None else kept.expires > now
    ):
        return kept.names
    names = list(ProviderHealth.objects.filter(is_enabled=True).values_list("name", flat=True))
    rt.order = _Order(names, now + ORDER_CACHE_S, version)
    return names
