"""Carrying out an approved proposal's remedy: the django-q2 task body and how its changes read."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from . import remedies
from .authority import remedy_min_voters
from .lifecycle import Status
from .models import Proposal
from .selectors import proposal_tally
from .services import TALLY_ACTOR, NotAllowed, proposal_advance

logger = logging.getLogger(__name__)


def proposal_implement(*, proposal_id: int) -> Proposal | None:
    """Carry out an approved proposal's remedy and mark it implemented (the django-q2 task body).

    The proposal row is locked for the run, so a retry queued while the first task still runs
    waits and then finds it implemented: a remedy runs once. A remedy that fails is recorded on
    the proposal (reason, when, attempts) and left approved for a retry, never silently stuck.
    """
    with transaction.atomic():
        proposal = Proposal.objects.select_for_update().filter(pk=proposal_id).first()
        if proposal is None or proposal.status != Status.APPROVED or not proposal.remedy:
            return proposal
        Proposal.objects.filter(pk=proposal.pk).update(remedy_attempts=F("remedy_attempts") + 1)
        try:
            with transaction.atomic():  # a failing remedy rolls back its own half-done changes
                note = _remedy_run(proposal)
        except Exception as e:  # whatever the remedy raised: record it where people look
            return _remedy_failed(proposal, e)
        Proposal.objects.filter(pk=proposal.pk).update(remedy_error="", remedy_failed_at=None)
        return proposal_advance(proposal=proposal, to=Status.IMPLEMENTED, by=TALLY_ACTOR, note=note)


def _remedy_run(proposal: Proposal) -> str:
    _approval_check(proposal)
    remedy = remedies.get(proposal.remedy)
    remedies.validate(remedy.name, proposal.remedy_args)
    actor = proposal.decided_by or proposal.proposed_by
    changed = remedy.func(actor=actor, proposal=proposal.code, **proposal.remedy_args)
    note = f"Remedy '{remedy.name}' carried out: {changes_text(changed)}"
    logger.info("%s: %s", proposal.code, note)
    return note


def changes_text(changed) -> str:
    """What a remedy returned, as people read it: "provider groq; priority 0 → 3"."""
    if not isinstance(changed, dict):
        return str(changed)
    before, after = changed.get("before"), changed.get("after")
    parts = [f"{k} {_plain(v)}" for k, v in changed.items() if k not in ("before", "after")]
    if isinstance(before, dict) and isinstance(after, dict):
        parts += [f"{k} {_plain(before.get(k))} → {_plain(v)}" for k, v in after.items()]
    elif "before" in changed or "after" in changed:
        parts.append(f"{_plain(before)} → {_plain(after)}")
    return "; ".join(parts)


def _plain(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_plain(v)}" for k, v in value.items())
    return "-" if value is None else str(value)


def _approval_check(proposal: Proposal) -> None:
    """Defence in depth: a vote approved it only if enough distinct voters took part."""
    if not proposal.decided_by.startswith(TALLY_ACTOR):
        return  # an operator's or staff member's decision
    voters = proposal_tally(proposal).voters
    if voters < remedy_min_voters():
        raise NotAllowed(f"approved by {voters} voter(s); a remedy needs {remedy_min_voters()}")


def _remedy_failed(proposal: Proposal, error: Exception) -> Proposal:
    reason = f"{type(error).__name__}: {error}"[:2000]
    logger.warning("%s: remedy '%s' failed: %s", proposal.code, proposal.remedy, reason)
    Proposal.objects.filter(pk=proposal.pk).update(
        remedy_error=reason, remedy_failed_at=timezone.now()
    )
    proposal.refresh_from_db()
    return proposal
