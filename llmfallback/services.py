"""What users and agents can do. Views, admin actions, tasks and commands call these, nothing else."""

from __future__ import annotations

import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace
from datetime import timedelta

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

from .core.engine import FallbackEngine
from .core.errors import AllProvidersFailed, ChatFailed, RequestUnsendable
from .core.types import ChatRequest, ChatResult
from .escalation import timeline
from .escalation.triggers import escalation_after_success
from .escalation.unserved import unserved_escalate
from .models import ErrorEvent, UsageBucket
from .ops import cache as response_cache
from .ops import tracing
from .runtime import provider_order, runtime

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
    """Delete error history, usage buckets and staff login records (django-axes' logs of
    logins and failed logins; its lockouts expire by themselves) older than
    LLM_ERROR_HISTORY_KEEP_DAYS."""
    from axes.models import AccessFailureLog, AccessLog

    cutoff = (now or timezone.now()) - timedelta(days=settings.LLM_ERROR_HISTORY_KEEP_DAYS)
    deleted = 0
    for rows in (
        ErrorEvent.objects.filter(created_at__lt=cutoff),
        UsageBucket.objects.filter(minute__lt=cutoff),
        AccessFailureLog.objects.filter(attempt_time__lt=cutoff),
        AccessLog.objects.filter(attempt_time__lt=cutoff),
    ):
        deleted += rows.delete()[0]
    return deleted


def escalation_events_prune(*, now=None) -> int:
    """Delete the failure events of escalations closed more than LLM_ERROR_HISTORY_KEEP_DAYS ago."""
    return timeline.closed_failures_prune(
        now=now or timezone.now(), keep_days=settings.LLM_ERROR_HISTORY_KEEP_DAYS
    )


def schedules_ensure(*, using: str = "default") -> None:
    """Create the periodic django-q2 schedules, one of each name, as they should be. Run after
    every `migrate` (apps.py), so each way of deploying has them and a deleted one comes back.
    Schedule.name is not unique: two machines migrating at once may both create one; any later
    run keeps the oldest (fields set right) and deletes the rest, in any interleaving."""
    from django_q.models import Schedule

    periodic = {
        "llm-history-prune": {
            "func": "llmfallback.tasks.history_prune",
            "schedule_type": Schedule.HOURLY,
        },
        "llm-escalation-events-prune": {
            "func": "llmfallback.tasks.escalation_events_prune",
            "schedule_type": Schedule.HOURLY,
        },
        "llm-auth-probes": {
            "func": "llmfallback.tasks.auth_probes",
            "schedule_type": Schedule.MINUTES,
            "minutes": 5,
        },
    }
    for name, fields in periodic.items():
        rows = Schedule.objects.using(using).filter(name=name)
        keep = rows.order_by("id").values_list("id", flat=True).first()
        if keep is None:
            rows.create(name=name, **fields)
        else:
            rows.filter(id=keep).update(**fields)
            rows.exclude(id=keep).delete()
