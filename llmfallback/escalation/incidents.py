"""One incident, one escalation: open it with its proposal, attach later failures, close it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.utils import timezone

from congress import remedies as congress_remedies
from congress import services as congress
from llmfallback.health.counts import counter_add

from ..audit import audit_write
from ..core.escalation import Counts, Decision, Thresholds, suggest
from ..models import ErrorEvent, Escalation, EscalationEvent
from ..ops import alerts
from ..selectors import recent_errors
from . import report, timeline
from .flag import NONE_OPEN, flag_store, open_flag

logger = logging.getLogger(__name__)

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


@dataclass(frozen=True, slots=True)
class Incident:
    """What a trigger saw when it decided to escalate."""

    decision: Decision
    request: object  # ChatRequest
    attempts: tuple
    counts: Counts
    thresholds: Thresholds
    all_failed: bool
    now: datetime


def ref(escalation: Escalation) -> EscalationRef:
    proposal = escalation.proposal
    return EscalationRef(
        escalation.pk, escalation.number, proposal and proposal.pk, proposal and proposal.code
    )


def failed_attempts(attempts) -> list:
    """The attempts that were a provider's own fault: refused requests never escalate."""
    return [a for a in attempts if a.error_type and not a.refused]


def window_start(now: datetime, window_s: int) -> datetime:
    """The window's start, but never before the last incident closed: failures that incident
    already answered for never count towards the next one.
    """
    start = now - timedelta(seconds=window_s)
    closed = Escalation.objects.aggregate(m=Max("closed_at"))["m"]
    return max(start, closed) if closed else start


def escalation_open(incident: Incident) -> EscalationRef | None:
    """Open the escalation and its proposal; if another worker opened one first, attach to it."""
    try:
        with transaction.atomic():
            escalation = _create(incident)
    except IntegrityError:  # one_open_escalation: another worker won the race
        current = (
            Escalation.objects.filter(status=Escalation.Status.OPEN)
            .select_related("proposal")
            .first()
        )
        if current is None:
            return None
        failed = failed_attempts(incident.attempts)
        escalation_attach(
            escalation=current, attempts=failed, all_failed=incident.all_failed, now=incident.now
        )
        return ref(current)
    _file_write(escalation)
    flag_store({"id": escalation.pk, "providers": escalation.providers})
    logger.warning("Escalated to the Congress: #%s %s", escalation.number, incident.decision.reason)
    alerts.alert_escalation_opened(escalation)
    return ref(escalation)


def _create(incident: Incident) -> Escalation:
    number = (Escalation.objects.aggregate(m=Max("number"))["m"] or 0) + 1
    remedies = _feasible(suggest(incident.decision, incident.counts.by_error, incident.thresholds))
    status = report.provider_status()
    since = _first_seen(incident)
    description = report.proposal_markdown(
        number=number,
        decision=incident.decision,
        since=since,
        attempts=incident.attempts,
        status=status,
        remedies=remedies,
    )
    escalation = Escalation.objects.create(
        number=number,
        trigger=incident.decision.trigger.value,
        reason=incident.decision.reason,
        context=incident.request.context[:2000],
        providers=list(incident.decision.providers),
        messages=report.messages_capped(incident.request.messages),
        provider_status=status,
        error_history=recent_errors(),
        proposal_description=description,
        opened_at=incident.now,
        first_seen_at=since,
        last_seen_at=incident.now,
        failed_requests=int(incident.all_failed),
        failures=len(failed_attempts(incident.attempts)),
    )
    escalation.proposal = _proposal_file(escalation, incident, remedies)
    escalation.save(update_fields=["proposal"])
    detail = {"trigger": escalation.trigger, "reason": escalation.reason}
    EscalationEvent.objects.create(
        escalation=escalation, created_at=incident.now, kind="opened", detail=detail
    )
    counter_add(ESCALATIONS)
    return escalation


def _first_seen(incident: Incident) -> datetime:
    since = window_start(incident.now, incident.thresholds.window_s)
    first = ErrorEvent.objects.filter(created_at__gt=since, refused=False).order_by("created_at")
    return first.values_list("created_at", flat=True).first() or incident.now


def _proposal_file(escalation: Escalation, incident: Incident, remedies):
    """The seed's proposal, carrying the most fitting remedy; open for voting for an hour."""
    failed = failed_attempts(incident.attempts)
    kinds = {a.error_type for a in failed} | {e for _, e in incident.counts.by_error}
    return congress.proposal_create(
        title=f"🚨 Fallo Crítico LLM - Escalación #{escalation.number}",
        description=escalation.proposal_description,
        category="technical",
        priority=1,
        tags=["llm", "infrastructure", "auto-escalation"],
        proposed_by="llmfallback:escalation",
        source=f"llmfallback.escalation:{escalation.pk}",
        remedy=remedies[0].name if remedies else "",
        remedy_args=remedies[0].args if remedies else {},
        voting_deadline=incident.now + VOTING_PERIOD,
        open_voting=True,
        metadata={
            "escalation_id": escalation.pk,
            "escalation_number": escalation.number,
            "trigger": escalation.trigger,
            "providers_failed": sorted({a.provider for a in failed}) or escalation.providers,
            "error_types": sorted(kinds),
            "remedies": [{"name": r.name, "args": r.args, "why": r.why} for r in remedies],
        },
    )


def _feasible(suggested) -> list:
    """The suggestions the Congress would accept now (never disable the last enabled provider):
    an escalation is filed whatever its remedy, so a refused one must never stop it.
    """
    feasible = []
    for remedy in suggested:
        try:
            congress_remedies.validate(remedy.name, remedy.args)
        except (congress_remedies.InvalidRemedy, congress_remedies.UnknownRemedy):
            continue
        feasible.append(remedy)
    return feasible


def _file_write(escalation: Escalation) -> None:
    name = report.escalation_file_name(escalation.opened_at, escalation.number)
    report.json_write(name, report.escalation_document(escalation))
    host = settings.LLM_HOST_NAME
    Escalation.objects.filter(pk=escalation.pk).update(file_name=name, file_host=host)
    escalation.file_name, escalation.file_host = name, host


def escalation_attach(*, escalation: Escalation, attempts, all_failed: bool, now: datetime) -> None:
    """Count a later failure into the open escalation: one narrow update, and the timeline
    event of its shape counts it (escalation/timeline.py)."""
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
        timeline.failure_record(escalation_id=escalation.pk, detail=detail, now=now)


def escalation_recover_check(*, provider: str, now: datetime | None = None) -> bool:
    """On success: a memory read; the cache once a second; the DB when an escalation is open.

    An incident closes only after its providers have answered for a settling time with no
    failure in between, so a provider flapping within seconds keeps one incident open.
    """
    flag = open_flag()
    if flag == NONE_OPEN or (flag["providers"] and provider not in flag["providers"]):
        return False
    now = now or timezone.now()
    open_ = Escalation.objects.filter(pk=flag["id"], status=Escalation.Status.OPEN)
    open_.filter(healthy_since=None).update(healthy_since=now)  # the settling time starts
    settled = now - timedelta(seconds=settings.LLM_INCIDENT_SETTLE_S)
    if not open_.filter(healthy_since__lte=settled).exists():
        return False
    return escalation_recover(escalation_id=flag["id"], now=now)


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
    """Close an open escalation by hand (its proposal stays as people left it), audited."""
    closed = _close(escalation.pk, Escalation.Status.RESOLVED, timezone.now(), {"by": by})
    if closed is not None:
        proposal = closed.proposal.code if closed.proposal else ""
        audit_write(
            actor=by,
            action="escalation_resolve",
            target=f"escalation #{closed.number}",
            before={"status": Escalation.Status.OPEN},
            after={"status": Escalation.Status.RESOLVED},
            note=f"proposal {proposal}" if proposal else "",
        )
    return closed is not None


def _close(escalation_id: int, status: str, now: datetime, detail: dict) -> Escalation | None:
    with transaction.atomic():
        changed = Escalation.objects.filter(pk=escalation_id, status=Escalation.Status.OPEN).update(
            status=status, closed_at=now
        )
        if changed:
            EscalationEvent.objects.create(
                escalation_id=escalation_id, created_at=now, kind=status, detail=detail
            )
    flag_store(NONE_OPEN)
    if changed:  # recovered or resolved: one alert per escalation
        alerts.alert_escalation_closed(escalation_id)
    return Escalation.objects.select_related("proposal").get(pk=escalation_id) if changed else None
