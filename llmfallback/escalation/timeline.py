"""An escalation's timeline stays small: repeated failures are one counted event, the API reads
it a page at a time, and closed escalations' failures are pruned.

One row per failed request made a long outage's timeline grow without end (2,000 failed
requests: 2,004 rows, a 118 KB answer to any agent), so a failure shaped like an earlier one
(the same attempts: providers, error classes, statuses) raises that event's count and last_at.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce, Greatest

from ..models import Escalation, EscalationEvent

PAGE = 100  # timeline events per answer
FAILURE = "failure"


def failure_record(*, escalation_id: int, detail: dict, now: datetime) -> None:
    """Count a failure into the event of its shape, or start that event."""
    signature = hashlib.sha256(json.dumps(detail, sort_keys=True).encode()).hexdigest()[:32]
    same = EscalationEvent.objects.filter(
        escalation_id=escalation_id, kind=FAILURE, signature=signature
    )
    if _count_in(same, now):
        return
    try:
        with transaction.atomic():  # a savepoint: a lost race leaves the caller's transaction whole
            EscalationEvent.objects.create(
                escalation_id=escalation_id,
                created_at=now,
                last_at=now,
                kind=FAILURE,
                detail=detail,
                signature=signature,
            )
    except IntegrityError:  # one_failure_event_per_shape: another worker started it meanwhile
        _count_in(same, now)


def _count_in(events, now: datetime) -> int:
    # GREATEST: a worker that is late with an earlier failure never moves last_at back.
    last = Greatest(Coalesce(F("last_at"), F("created_at")), Value(now))
    return events.update(count=F("count") + 1, last_at=last)


def timeline_page(escalation: Escalation, *, offset: int = 0) -> dict:
    """The timeline's events from `offset`, at most PAGE of them, oldest first."""
    events = escalation.events.order_by("created_at", "id")
    total = events.count()
    page = list(events[offset : offset + PAGE])
    following = offset + len(page)
    return {
        "events": page,
        "timeline_total": total,
        "timeline_next_offset": following if following < total else None,
    }


def event_out(event: EscalationEvent, *, detail: bool) -> dict:
    out = {
        "at": event.created_at.isoformat(),
        "kind": event.kind,
        "count": event.count,
        "last_at": (event.last_at or event.created_at).isoformat(),
    }
    return out | {"detail": event.detail} if detail else out


def closed_failures_prune(*, now: datetime, keep_days: int) -> int:
    """Delete the failure events of escalations closed more than `keep_days` ago.

    Their counts stay on the escalation (failed_requests, failures) and the opened and closing
    events stay: the story of the incident, without its every repetition.
    """
    cutoff = now - timedelta(days=keep_days)
    closed = Escalation.objects.filter(closed_at__lt=cutoff).exclude(status=Escalation.Status.OPEN)
    deleted, _ = EscalationEvent.objects.filter(escalation__in=closed, kind=FAILURE).delete()
    return deleted
