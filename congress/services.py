"""What agents and people can do in the Congress. Views, admin actions and tasks call these."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from . import listeners, remedies
from .authority import Action, Actor, actor_from, may, remedy_min_voters
from .lifecycle import STAMPS, UNDECIDED, IllegalTransition, Status, check_transition
from .models import Proposal

VOTING_PERIOD = timedelta(hours=24)  # when a proposal opens for voting without a deadline
TALLY_ACTOR = "congress:tally"


class NotAllowed(PermissionError):
    """The actor's role may not do this (see congress/authority.py)."""


class RemedyBounds(ValueError):
    """Voting settings below what a remedy-carrying proposal needs."""


def proposal_create(
    *, title: str, proposed_by: Actor | str, open_voting: bool = False, **fields
) -> Proposal:
    """File a proposal (a draft; submitted and opened for voting at once if `open_voting`).

    A remedy is checked against the registry now (UnknownRemedy, InvalidRemedy), and its
    proposal gets a quorum and electorate no lower than authority.remedy_min_voters().
    """
    actor = actor_from(proposed_by)
    fields = proposal_fields_check(fields)
    proposal = Proposal.objects.create(title=title, proposed_by=actor.name, **fields)
    if open_voting:
        for step in (Status.SUBMITTED, Status.UNDER_REVIEW, Status.VOTING):
            proposal = proposal_advance(proposal=proposal, to=step, by=actor.name)
    return proposal


def proposal_fields_check(fields: dict) -> dict:
    """The fields as a proposal is filed with them (quorum filled in), or the reason it cannot be:
    UnknownRemedy, InvalidRemedy, RemedyBounds. The API and the admin's form both ask here.
    """
    if fields.get("remedy"):
        remedies.validate(fields["remedy"], fields.get("remedy_args") or {})
        return _remedy_bounds(fields)
    return fields if fields.get("quorum") is not None else fields | {"quorum": 1}


def _remedy_bounds(fields: dict) -> dict:
    minimum = remedy_min_voters()
    quorum, electorate = fields.get("quorum"), fields.get("electorate")
    if quorum is not None and quorum < minimum:
        raise RemedyBounds(
            f"A proposal carrying a remedy needs a quorum of at least {minimum} voters."
        )
    if electorate is not None and electorate < minimum:
        raise RemedyBounds(
            f"A proposal carrying a remedy needs an electorate of at least {minimum}."
        )
    return fields | {"quorum": quorum if quorum is not None else minimum}


def proposal_transition(
    *, proposal: Proposal, to: str, by: Actor | str, note: str = ""
) -> Proposal:
    """Move a proposal along its lifecycle, if the actor may (NotAllowed) and the lifecycle
    allows it (IllegalTransition).
    """
    actor = actor_from(by)
    if not may(actor, Action.TRANSITION):
        raise NotAllowed("Status changes need an operator key or a staff account.")
    return proposal_advance(proposal=proposal, to=to, by=actor.name, note=note)


def proposal_advance(*, proposal: Proposal, to: str, by: str, note: str = "") -> Proposal:
    """Move a proposal along its lifecycle with no authority check: the Congress's own steps
    (the tally's decision, a remedy carried out) and the entry points above, once they have checked.
    """
    target = check_transition(proposal.status, to)
    now = timezone.now()
    fields = {"status": target.value, STAMPS[target]: now} | _notes(target, by, note)
    if target is Status.VOTING and proposal.voting_deadline is None:
        fields["voting_deadline"] = now + VOTING_PERIOD
    with transaction.atomic():
        # Only from the status we checked: a concurrent change makes this a no-op, not a double move.
        if not Proposal.objects.filter(pk=proposal.pk, status=proposal.status).update(**fields):
            current = Proposal.objects.values_list("status", flat=True).get(pk=proposal.pk)
            raise IllegalTransition(current, to)
        if target in (Status.APPROVED, Status.REJECTED):
            listeners.decided(proposal=proposal, status=target.value, by=by, note=note)
        if target is Status.APPROVED and proposal.remedy:
            # Only once the approval is committed: a worker must find the proposal approved.
            transaction.on_commit(lambda: _enqueue_implementation(proposal.pk))
    proposal.refresh_from_db()
    return proposal


def _notes(target: Status, by: str, note: str) -> dict:
    if target in (Status.APPROVED, Status.REJECTED):
        return {"decided_by": by} | (
            {"rejection_note": note} if target is Status.REJECTED and note else {}
        )
    return {"resolution_note": note} if note else {}


def _enqueue_implementation(proposal_id: int) -> None:
    from django_q.tasks import async_task

    async_task("congress.tasks.proposal_implement", proposal_id)


def remedy_retry(*, proposal: Proposal, by: Actor | str) -> bool:
    """Queue an approved proposal's failed remedy again (admin action). False if nothing to retry."""
    if not may(actor_from(by), Action.TRANSITION):
        raise NotAllowed("Retrying a remedy needs an operator key or a staff account.")
    if proposal.status != Status.APPROVED or not proposal.remedy:
        return False
    transaction.on_commit(lambda: _enqueue_implementation(proposal.pk))
    return True


def proposal_close(*, proposal: Proposal, note: str, by: str) -> bool:
    """Archive a proposal nobody has decided yet, with a resolution note. False if already decided."""
    if proposal.status not in UNDECIDED:
        return False
    try:
        proposal_advance(proposal=proposal, to=Status.ARCHIVED, by=str(by), note=note)
    except IllegalTransition:
        return False
    return True
