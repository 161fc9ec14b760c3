"""When a request's failures escalate: the hooks llm_chat calls, thresholds and counts."""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from llmfallback.health.overrides import override_value

from ..core.errors import AllProvidersFailed
from ..core.escalation import Counts, Thresholds, decide
from ..models import ErrorEvent, Escalation
from ..off_loop import off_loop
from ..ops import alerts
from .incidents import (
    EscalationRef,
    Incident,
    escalation_attach,
    escalation_open,
    escalation_recover_check,
    failed_attempts,
    ref,
    window_start,
)

logger = logging.getLogger(__name__)
THRESHOLDS = (
    "congress_threshold_failures",
    "congress_threshold_repeated_error",
    "congress_window_s",
)


@off_loop
def escalation_after_failure(*, error, request, config=None) -> None:
    """Hook for llm_chat's failure path; sets `error.escalation` when the request escalated."""
    error.escalation = None
    alerts.alert_all_down(error)  # llm_chat's and streaming's failures both pass here
    all_failed = isinstance(error, AllProvidersFailed)
    try:
        error.escalation = escalation_consider(
            request=request, attempts=error.attempts, all_failed=all_failed, config=config
        )
    except Exception:  # the caller's answer matters more than the bookkeeping
        logger.exception("Escalation bookkeeping failed")


@off_loop
def escalation_after_success(*, result, request, config=None) -> None:
    """Hook for llm_chat's success path: no query unless attempts failed or an escalation is open."""
    try:
        if failed_attempts(result.attempts):
            escalation_consider(
                request=request, attempts=result.attempts, all_failed=False, config=config
            )
        escalation_recover_check(provider=result.provider)
    except Exception:
        logger.exception("Escalation bookkeeping failed")


def escalation_consider(
    *, request, attempts, all_failed: bool, config=None, now=None
) -> EscalationRef | None:
    """Attach these failures to the open escalation, or open one if a trigger holds."""
    failed = failed_attempts(attempts)
    if not escalation_enabled(config) or not (all_failed or failed):
        return None
    now = now or timezone.now()
    current = (
        Escalation.objects.filter(status=Escalation.Status.OPEN).select_related("proposal").first()
    )
    if current is not None:
        escalation_attach(escalation=current, attempts=failed, all_failed=all_failed, now=now)
        return ref(current)
    thresholds = thresholds_current(config)
    since = window_start(now, thresholds.window_s)
    counts = failure_counts(now=now, since=since, all_failed=all_failed)
    decision = decide(counts, thresholds)
    if decision is None:
        return None
    return escalation_open(
        Incident(decision, request, tuple(attempts), counts, thresholds, all_failed, now)
    )


def thresholds_current(config=None) -> Thresholds:
    """A FallbackConfig's thresholds where it sets them, else the settings with the Congress's
    overrides, read now (so a long-lived manager follows the Congress too).
    """
    return Thresholds(*(_configured(config, name) or override_value(name) for name in THRESHOLDS))


def escalation_enabled(config=None) -> bool:
    configured = _configured(config, "enable_congress_escalation")
    return settings.LLM_ENABLE_CONGRESS_ESCALATION if configured is None else configured


def _configured(config, name: str):
    return None if config is None else getattr(config, name)


def failure_counts(*, now: datetime, since: datetime, all_failed: bool) -> Counts:
    """Providers' own failures after `since`, from the error history (indexed by created_at)."""
    rows = (
        ErrorEvent.objects.filter(created_at__gt=since, created_at__lte=now, refused=False)
        .values_list("provider", "error_type")
        .annotate(n=Count("id"))
        .order_by()
    )
    by_error = {(p, e): n for p, e, n in rows}
    return Counts(all_failed=all_failed, failures=sum(by_error.values()), by_error=by_error)
