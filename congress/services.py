"""What agents and people can do in the Congress. Views, admin actions and tasks call these."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from . import remedies
from .lifecycle import STAMPS, UNDECIDED, IllegalTransition, Status, check_transition
from .models import Proposal, Vote
from .selectors import proposal_tally
from .voting import Choice, Outcome, settled

logger = logging.getLogger(__name__)

VOTING_PERIOD = timedelta(hours=24)  # when a proposal opens for voting without a deadline
TALLY_ACTOR = "congress:tally"


class VotingClosed(Exception):
    """Votes are accepted only while a proposal is in voting and before its deadline."""

    def __init__(self, proposal: Proposal) -> None:
        super().__init__(f"Voting on {proposal.code} is closed (status '{proposal.status}').")


def proposal_create(
    *, title: str, proposed_by: str, open_voting: bool = False, **fields
) -> Proposal:
    """File a proposal (a draft; submitted and opened for voting at once if `open_voting`)."""
    if fields.get("remedy"):
        remedies.get(fields["remedy"])  # raises UnknownRemedy
    proposal = Proposal.objects.create(title=title, proposed_by=proposed_by, **fields)
    if open_voting:
        for step in (Status.SUBMITTED, Status.UNDER_REVIEW, Status.VOTING):
            proposal = proposal_transition(proposal=proposal, to=step, by=proposed_by)
    return proposal


def proposal_transition(*, proposal: Proposal, to: str, by: str, note: str = "") -> Proposal:
    """Move a proposal along its lifecycle; raises IllegalTransition for any other move."""
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
        if target is Status.APPROVED and proposal.remedy:
            _enqueue_implementation(proposal.pk)
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


def vote_cast(
    *,
    proposal: Proposal,
    voter: str,
    choice: str,
    weight: float = 1,
    reason: str = "",
    now: datetime | None = None,
) -> tuple[Vote, bool]:
    """Cast or change `voter`'s vote; closes voting if the outcome can no longer change."""
    now = now or timezone.now()
    proposal = proposal_close_if_due(proposal=proposal, now=now)
    if proposal.status != Status.VOTING:
        raise VotingClosed(proposal)
    values = {"choice": Choice(choice).value, "weight": weight, "reason": reason}
    try:
        with transaction.atomic():
            vote, created = Vote.objects.update_or_create(
                proposal=proposal, voter=voter, defaults=values
            )
    except IntegrityError:  # the same voter's other request inserted first: change that vote
        Vote.objects.filter(proposal=proposal, voter=voter).update(**values)
        vote, created = Vote.objects.get(proposal=proposal, voter=voter), False
    proposal_settle(proposal=proposal)
    return vote, created


def proposal_settle(*, proposal: Proposal) -> Proposal:
    """Close voting early when the remaining electorate can no longer change the outcome."""
    result = proposal_tally(proposal)
    remaining = (
        None
        if proposal.electorate is None
        else max(proposal.electorate - proposal.votes.count(), 0)
    )
    outcome = settled(result, remaining_voters=remaining)
    return _decide(proposal, outcome) if outcome else proposal


def proposal_close_if_due(*, proposal: Proposal, now: datetime | None = None) -> Proposal:
    """Close voting if its deadline has passed: the tally decides approved or rejected."""
    now = now or timezone.now()
    if (
        proposal.status != Status.VOTING
        or not proposal.voting_deadline
        or proposal.voting_deadline > now
    ):
        return proposal
    return _decide(proposal, proposal_tally(proposal).outcome)


def voting_close_due(*, now: datetime | None = None) -> int:
    """Close every proposal whose voting deadline has passed; the number closed."""
    now = now or timezone.now()
    due = Proposal.objects.filter(status=Status.VOTING, voting_deadline__lte=now)
    return sum(proposal_close_if_due(proposal=p, now=now).status != Status.VOTING for p in due)


def _decide(proposal: Proposal, outcome: Outcome) -> Proposal:
    result = proposal_tally(proposal)
    summary = f"{TALLY_ACTOR} ({result.voters} voting, yes {float(result.yes):g}, no {float(result.no):g})"
    note = "" if outcome is Outcome.APPROVED else _rejection_reason(result)
    try:
        return proposal_transition(proposal=proposal, to=outcome.value, by=summary, note=note)
    except IllegalTransition:  # decided meanwhile by someone else
        proposal.refresh_from_db()
        return proposal


def _rejection_reason(result) -> str:
    if not result.quorum_met:
        return f"Quorum not met: {result.voters} of {result.quorum} non-abstaining votes."
    return f"The {result.rule.value} rule was not met."


def proposal_implement(*, proposal_id: int) -> Proposal | None:
    """Carry out an approved proposal's remedy and mark it implemented (the django-q2 task body)."""
    proposal = Proposal.objects.filter(pk=proposal_id).first()
    if proposal is None or proposal.status != Status.APPROVED or not proposal.remedy:
        return proposal
    remedy = remedies.get(proposal.remedy)
    changed = remedy.func(actor=proposal.decided_by or proposal.proposed_by, **proposal.remedy_args)
    note = f"Remedy '{remedy.name}' carried out: {changed}"
    logger.info("%s: %s", proposal.code, note)
    return proposal_transition(proposal=proposal, to=Status.IMPLEMENTED, by=TALLY_ACTOR, note=note)


def proposal_close(*, proposal: Proposal, note: str, by: str) -> bool:
    """Archive a proposal nobody has decided yet, with a resolution note. False if already decided."""
    if proposal.status not in UNDECIDED:
        return False
    try:
        proposal_transition(proposal=proposal, to=Status.ARCHIVED, by=by, note=note)
    except IllegalTransition:
        return False
    return True
