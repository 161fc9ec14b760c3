"""What users and agents can do. Views, admin actions, tasks and commands call these, nothing else."""

from __future__ import annotations

import copy
import hashlib
import threading
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace
from datetime import timedelta
from typing import NamedTuple

from django.conf import settings
from django.utils import timezone

# What operators do to providers lives in provider_actions.py; callers reach it here too.
from llmfallback.health.provider_actions import (  # noqa: F401
    provider_blockers,
    provider_cooldown_reset,
    provider_disable,
    provider_disable_leaves_none,
    provider_enable,
    provider_is_last_enabled,
    provider_move,
    provider_reset_all,
)
from llmfallback.health.store import OrmHealthStore
from llmfallback.health.watch import health_watch

from .core.cooldown import CooldownPolicy
from .core.engine import EngineSettings, FallbackEngine
from .core.errors import AllProvidersFailed, ChatFailed, RequestUnsendable
from .core.first_token import FirstTokenLimit
from .core.types import ChatRequest, ChatResult
from .db_pool import db_release
from .escalation import timeline
from .escalation.triggers import escalation_after_success
from .escalation.unserved import unserved_escalate
from .models import ErrorEvent, KeyHealth, ProviderHealth, UsageBucket
from .ops import cache as response_cache
from .ops import tracing
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


_shorter_deadline: ContextVar[float | None] = ContextVar("d8_shorter_deadline", default=None)


@contextmanager
def deadline_shortened(seconds: float | None):
    """Within it, a request's deadline is at most `seconds`: a caller's own shorter deadline
    (http/timeouts.py). It never lengthens LLM_DEADLINE_S."""
    if seconds is None:
        yield
        return
    token = _shorter_deadline.set(seconds)
    try:
        yield
    finally:
        _shorter_deadline.reset(token)


def engine_for_request(*, config=None, clock=time.time) -> FallbackEngine:
    """An engine over the enabled providers in the operators' current priority order.

    A FallbackConfig (the seed's Python API) may narrow the providers and set the retries.
    """
    rt = runtime()
    order = provider_order(rt)
    if config is not None and config.provider_priority is not None:
        enabled = set(order)
        order = [name for name in config.provider_priority if name in enabled]
    providers = [rt.providers[name] for name in order if name in rt.providers]
    if config is not None and config.provider_models:
        providers = [rt.for_model(p, config.provider_models.get(p.name)) for p in providers]
    if tracing.tracer is not None:
        providers = tracing.traced(providers)
    engine_settings = rt.settings
    if config is not None and config.max_retries_per_provider is not None:
        engine_settings = replace(
            engine_settings, max_retries_per_provider=config.max_retries_per_provider
        )
    shorter = _shorter_deadline.get()
    if shorter is not None and shorter < engine_settings.deadline_s:
        engine_settings = replace(engine_settings, deadline_s=shorter)
    return FallbackEngine(providers, rt.store, rt.policy, clock, engine_settings)


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


ALL_DISABLED = "every provider is disabled by operators"


def llm_chat(
    *,
    request: ChatRequest,
    config=None,
    clock=time.time,
    cache: bool | None = None,
    cache_scope: str | None = None,
) -> ChatResult:
    """Serve one chat request; raises AllProvidersFailed or CallerError when it cannot.

    `cache`: True or False is the caller's say on the response cache, None leaves it to the
    configuration (ops/cache.py). An answer that went through the cache says "hit" or "miss".
    `cache_scope`: whose entries it may read (ops/cache.scope_for); None: the in-process API's.
    """
    engine = engine_for_request(config=config, clock=clock)
    if not engine.providers:
        # Operators took every provider out: no outage to escalate and no moment to name.
        raise AllProvidersFailed((), retry_after=None, reason=ALL_DISABLED)
    if not response_cache.enabled_for(request, cache):
        return _chat_uncached(engine, request, config, clock)
    route = [f"{p.name}/{p.model}" for p in engine.providers]
    key = response_cache.key_for(request, route, cache_scope or response_cache.scope_for(None))
    if hit := response_cache.lookup(key, now=clock()):
        response_cache.count("hit")
        return hit
    response_cache.count("miss")  # consulted and missed, whether the providers answer or not
    result = _chat_uncached(engine, request, config, clock)
    response_cache.keep(key, result, now=clock())
    return response_cache.marked(result, "miss")


def _chat_uncached(engine, request, config, clock) -> ChatResult:
    started = clock()
    try:
        result = engine.chat(request)
    except RequestUnsendable:
        raise  # no provider was called: nothing failed upstream, nothing to count or escalate
    except ChatFailed as error:
        runtime().store.record_request_failed(now=clock(), latency_ms=(clock() - started) * 1000)
        enabled = provider_order(runtime())  # sets error.escalation:
        unserved_escalate(
            engine=engine, enabled=enabled, error=error, request=request, config=config
        )
        raise
    escalation_after_success(result=result, request=request, config=config)
    return result


def chat_request_build(*, data: dict) -> ChatRequest:
    """A ChatRequest from validated API input."""
    request = ChatRequest.from_dicts(data["messages"])
    return replace(
        request,
        temperature=data.get("temperature", 0.7),
        max_tokens=data.get("max_tokens", 2000),
        json_mode=data.get("json_mode", False),
        context=data.get("context", ""),
    )


def history_prune(*, now=None) -> int:
    """Delete error history and usage buckets older than LLM_ERROR_HISTORY_KEEP_DAYS."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.LLM_ERROR_HISTORY_KEEP_DAYS)
    errors, _ = ErrorEvent.objects.filter(created_at__lt=cutoff).delete()
    buckets, _ = UsageBucket.objects.filter(minute__lt=cutoff).delete()
    return errors + buckets


def escalation_events_prune(*, now=None) -> int:
    """Delete the failure events of escalations closed more than LLM_ERROR_HISTORY_KEEP_DAYS ago."""
    return timeline.closed_failures_prune(
        now=now or timezone.now(), keep_days=settings.LLM_ERROR_HISTORY_KEEP_DAYS
    )


def schedules_ensure() -> None:
    """Create the periodic django-q2 schedules once (idempotent, keyed by name)."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name="llm-history-prune",
        defaults={"func": "llmfallback.tasks.history_prune", "schedule_type": Schedule.HOURLY},
    )
    Schedule.objects.update_or_create(
        name="llm-escalation-events-prune",
        defaults={
            "func": "llmfallback.tasks.escalation_events_prune",
            "schedule_type": Schedule.HOURLY,
        },
    )
    Schedule.objects.update_or_create(
        name="llm-auth-probes",
        defaults={
            "func": "llmfallback.tasks.auth_probes",
            "schedule_type": Schedule.MINUTES,
            "minutes": 5,
        },
    )
