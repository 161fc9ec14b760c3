"""Escalations to the Congress: open one per outage, attach later failures, resolve on recovery."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Count, Max
from django.utils import timezone

from congress import services as congress

from . import escalation_report as report
from .core.errors import AllProvidersFailed
from .core.escalation import Counts, Decision, Thresholds, decide, suggest
from .models import ErrorEvent, Escalation, EscalationEvent
from .overrides import override_value
from .selectors import recent_errors
from .store import counter_add

logger = logging.getLogger(__name__)

CACHE_KEY = "llm:open_escalation"
NONE_OPEN = "none"
FLAG_TTL_S = 30  # a process looks in the DB for an open escalation at most this often on success
MEMO_S = 1.0  # and in the shared cache at most this often: recovery is noticed within a second
_memo: tuple[float, object] = (0.0, None)  # (expires, flag); swapped whole, so no lock is needed
ESCALATIONS = "escalations"  # the Counter behind /api/llm/health's congress_escalations
VOTING_PERIOD = timedelta(hours=1)
AUTO = "llmfallback:auto-resolution"


@dataclass(frozen=True, slots=True)
class EscalationRef:
    id: int
    number: int
    proposal_id: int | None
    proposal_code: str | None

    def as_dict(self) -> dict:
        return {
            "escalated_to_congress": True,
            "escalation_id": self.id,
            "escalation_number": self.number,
            "proposal_id": self.proposal_id,
            "proposal_code": self.proposal_code,
        }


def ref(escalation: Escalation) -> EscalationRef:
    proposal = escalation.proposal
    return EscalationRef(
        escalation.pk, escalation.number, proposal and proposal.pk, proposal and proposal.code
    )


def thresholds_current(config=None) -> Thresholds:
    """A FallbackConfig's thresholds where it sets them, else the settings with the Congress's
    overrides, read now (so a long-lived manager follows the Congress too).
    """
    names = (
        "congress_threshold_failures",
        "congress_threshold_repeated_error",
        "congress_window_s",
    )
    return Thresholds(*(_configured(config, name) or override_value(name) for name in names))


def escalation_enabled(config=None) -> bool:
    configured = _configured(config, "enable_congress_escalation")
    return settings.LLM_ENABLE_CONGRESS_ESCALATION if configured is None else configured


def _configured(config, name: str):
    return None if config is None else getattr(config, name)


def escalation_after_failure(*, error, request, config=None) -> None:
    """Hook for llm_chat's failure path; sets `error.escalation` when the request escalated."""
    error.escalation = None
    all_failed = isinstance(error, AllProvidersFailed)
    try:
        error.escalation = escalation_consider(
            request=request, attempts=error.attempts, all_failed=all_failed, config=config
        )
    except Exception:  # the caller's answer matters more than the bookkeeping
        logger.exception("Escalation bookkeeping failed")


def escalation_after_success(*, result, request, config=None) -> None:
    """Hook for llm_chat's success path: no query unless attempts failed or an escalation is open."""
    try:
        if _failed(result.attempts):
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
    failed = _failed(attempts)
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
    counts = failure_counts(
        now=now, since=window_start(now, thresholds.window_s), all_failed=all_failed
    )
    decision = decide(counts, thresholds)
    if decision is None:
        return None
    return escalation_open(
        decision=decision,
        request=request,
        attempts=attempts,
        counts=counts,
        thresholds=thresholds,
        all_failed=all_failed,
        now=now,
    )


def window_start(now: datetime, window_s: int) -> datetime:
    """The window's start, but never before the last incident closed: failures that incident
    already answered for never count towards the next one.
    """
    start = now - timedelta(seconds=window_s)
    closed = Escalation.objects.aggregate(m=Max("closed_at"))["m"]
    return max(start, closed) if closed else start


def failure_counts(*, now: datetime, since: datetime, all_failed: bool) -> Counts:
    """Provider failures since `since`, from the error history (indexed by created_at)."""
    rows = (
        ErrorEvent.objects.filter(created_at__gt=since, created_at__lte=now, refused=False)
        .values_list("provider", "error_type")
        .annotate(n=Count("id"))
        .order_by()
    )
    by_error = {(p, e): n for p, e, n in rows}
    return Counts(all_failed=all_failed, failures=sum(by_error.values()), by_error=by_error)


def escalation_open(
    *,
    decision: Decision,
    request,
    attempts,
    counts: Counts,
    thresholds: Thresholds,
    all_failed: bool,
    now: datetime,
) -> EscalationRef | None:
    """Open the escalation and its proposal; if another worker opened one first, attach to it."""
    try:
        with transaction.atomic():
            escalation = _create(decision, request, attempts, counts, thresholds, all_failed, now)
    except IntegrityError:  # one_open_escalation: another worker won the race
        current = (
            Escalation.objects.filter(status=Escalation.Status.OPEN)
            .select_related("proposal")
            .first()
        )
        if current is None:
            return None
        escalation_attach(
            escalation=current, attempts=_failed(attempts), all_failed=all_failed, now=now
        )
        return ref(current)
    _file_write(escalation)
    _flag_store({"id": escalation.pk, "providers": escalation.providers})
    logger.warning("Escalated to the Congress: #%s %s", escalation.number, decision.reason)
    return ref(escalation)


def _create(decision, request, attempts, counts, thresholds, all_failed, now) -> Escalation:
    number = (Escalation.objects.aggregate(m=Max("number"))["m"] or 0) + 1
    failed = _failed(attempts)
    blamed = list(decision.providers)
    status = report.provider_status()
    remedies = suggest(decision, counts.by_error, thresholds)
    first_seen = ErrorEvent.objects.filter(
        created_at__gt=window_start(now, thresholds.window_s), refused=False
    )
    since = first_seen.order_by("created_at").values_list("created_at", flat=True).first() or now
    description = report.proposal_markdown(
        number=number,
        decision=decision,
        since=since,
        attempts=attempts,
        status=status,
        remedies=remedies,
    )
    escalation = Escalation.objects.create(
        number=number,
        trigger=decision.trigger.value,
        reason=decision.reason,
        context=request.context[:2000],
        providers=blamed,
        messages=report.messages_capped(request.messages),
        provider_status=status,
        error_history=recent_errors(),
        proposal_description=description,
        opened_at=now,
        first_seen_at=since,
        last_seen_at=now,
        failed_requests=int(all_failed),
        failures=len(failed),
    )
    escalation.proposal = congress.proposal_create(
        title=f"🚨 Fallo Crítico LLM - Escalación #{number}",
        description=description,
        category="technical",
        priority=1,
        tags=["llm", "infrastructure", "auto-escalation"],
        proposed_by="llmfallback:escalation",
        source=f"llmfallback.escalation:{escalation.pk}",
        remedy=remedies[0].name,
        remedy_args=remedies[0].args,
        voting_deadline=now + VOTING_PERIOD,
        open_voting=True,
        metadata={
            "escalation_id": escalation.pk,
            "escalation_number": number,
            "trigger": decision.trigger.value,
            "providers_failed": sorted({a.provider for a in failed}) or blamed,
            "error_types": sorted({a.error_type for a in failed} | {e for _, e in counts.by_error}),
            "remedies": [{"name": r.name, "args": r.args, "why": r.why} for r in remedies],
        },
    )
    escalation.save(update_fields=["proposal"])
    EscalationEvent.objects.create(
        escalation=escalation,
        created_at=now,
        kind="opened",
        detail={"trigger": decision.trigger.value, "reason": decision.reason},
    )
    counter_add(ESCALATIONS)
    return escalation


def _file_write(escalation: Escalation) -> None:
    name = report.escalation_file_name(escalation.opened_at, escalation.number)
    report.json_write(name, report.escalation_document(escalation))
    Escalation.objects.filter(pk=escalation.pk).update(file_name=name)
    escalation.file_name = name


def escalation_attach(*, escalation: Escalation, attempts, all_failed: bool, now: datetime) -> None:
    """Count a later failure into the open escalation: one narrow update plus a timeline row."""
    from django.db.models import F

    with transaction.atomic():
        Escalation.objects.filter(pk=escalation.pk).update(
            failed_requests=F("failed_requests") + int(all_failed),
            failures=F("failures") + len(attempts),
            last_seen_at=now,
            healthy_since=None,  # not healthy: the settling time starts again at the next success
        )
        detail = {
            "all_failed": all_failed,
            "attempts": [
                {"provider": a.provider, "error_type": a.error_type, "status": a.status}
                for a in attempts
            ],
        }
        EscalationEvent.objects.create(
            escalation=escalation, created_at=now, kind="failure", detail=detail
        )


def escalation_recover_check(*, provider: str, now: datetime | None = None) -> bool:
    """On success: a memory read; the cache once a second; the DB when an escalation is open.

    An incident closes only after its providers have answered for a settling time with no
    failure in between, so a provider flapping within seconds keeps one incident open.
    """
    flag = _flag()
    if flag == NONE_OPEN or (flag["providers"] and provider not in flag["providers"]):
        return False
    now = now or timezone.now()
    open_ = Escalation.objects.filter(pk=flag["id"], status=Escalation.Status.OPEN)
    open_.filter(healthy_since=None).update(healthy_since=now)  # the settling time starts
    settled = now - timedelta(seconds=settings.LLM_INCIDENT_SETTLE_S)
    if not open_.filter(healthy_since__lte=settled).exists():
        return False
    return escalation_recover(escalation_id=flag["id"], now=now)


def _flag():
    """Whether an escalation is open: this process's memo, else the shared cache, else the DB.

    Expiry is kept inside the cached value on our own clock, so it holds the same way on
    Redis (which expires keys on its clock) and in local memory.
    """
    global _memo
    now = time.time()
    expires, flag = _memo
    if now < expires:
        return flag
    entry = cache.get(CACHE_KEY)
    if isinstance(entry, dict) and entry.get("expires", 0) > now:
        flag = entry["flag"]
    else:
        row = (
            Escalation.objects.filter(status=Escalation.Status.OPEN)
            .values("id", "providers")
            .first()
        )
        flag = _flag_store(row or NONE_OPEN)
    _memo = (now + MEMO_S, flag)
    return flag


def escalation_flag_forget() -> None:
    """Drop the shared and in-process memory of open escalations (tests, a restored database)."""
    global _memo
    cache.delete(CACHE_KEY)
    _memo = (0.0, None)


def _flag_store(flag):
    """Share `flag` with every process, and forget this process's memo."""
    global _memo
    cache.set(CACHE_KEY, {"flag": flag, "expires": time.time() + FLAG_TTL_S}, FLAG_TTL_S * 2)
    _memo = (0.0, None)
    return flag


def escalation_recover(*, escalation_id: int, now: datetime | None = None) -> bool:
    """Mark the escalation recovered and close its proposal unless people decided it already."""
    now = now or timezone.now()
    closed = _close(escalation_id, Escalation.Status.RECOVERED, now, {"provider_recovered": True})
    if not closed:
        return False
    note = (
        f"providers recovered at {now.isoformat()}, {closed.failed_requests} requests failed during the "
        f"incident ({closed.failures} failed provider attempts)"
    )
    if closed.proposal is not None:
        congress.proposal_close(proposal=closed.proposal, note=note, by=AUTO)
    logger.info("Escalation #%s recovered: %s", closed.number, note)
    return True


def escalation_resolve(*, escalation: Escalation, by: str) -> bool:
    """Close an open escalation by hand (its proposal stays as people left it)."""
    return bool(_close(escalation.pk, Escalation.Status.RESOLVED, timezone.now(), {"by": by}))


def _close(escalation_id: int, status: str, now: datetime, detail: dict) -> Escalation | None:
    with transaction.atomic():
        changed = Escalation.objects.filter(pk=escalation_id, status=Escalation.Status.OPEN).update(
            status=status, closed_at=now
        )
        if changed:
            EscalationEvent.objects.create(
                escalation_id=escalation_id, created_at=now, kind=status, detail=detail
            )
    _flag_store(NONE_OPEN)
    return Escalation.objects.select_related("proposal").get(pk=escalation_id) if changed else None


def _failed(attempts) -> list:
    """The attempts that were a provider's own fault: refused requests never escalate."""
    return [a for a in attempts if a.error_type and not a.refused]


def state_export() -> str:
    """Write fallback_state.json: the health report plus the escalations, redacted again."""
    from .selectors import health_report

    state = health_report() | {
        "escalations": [
            report.escalation_out(e) for e in Escalation.objects.select_related("proposal")[:50]
        ],
    }
    return str(report.json_write("fallback_state.json", state))
