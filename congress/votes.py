"""Votes and voters: casting a vote, closing voting when the tally settles it or its deadline
passes, and what each voter's vote weighs."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from .authority import Action, Actor, Role, actor_from, may, remedy_min_voters
from .lifecycle import IllegalTransition, Status
from .models import Proposal, Vote, Voter
from .selectors import proposal_tally, voter_weight
from .services import TALLY_ACTOR, NotAllowed, proposal_advance
from .voting import MAX_WEIGHT, Choice, Outcome, settled


class VotingClosed(Exception):
    """Votes are accepted only while a proposal is in voting and before its deadline."""

    def __init__(self, proposal: Proposal) -> None:
        super().__init__(f"Voting on {proposal.code} is closed (status '{proposal.status}').")


def vote_cast(
    *,
    proposal: Proposal,
    voter: Actor | str,
    choice: str,
    reason: str = "",
    now: datetime | None = None,
) -> tuple[Vote, bool]:
    """Cast or change `voter`'s vote, weighing what its Voter record says; closes voting if
    the outcome can no longer change.
    """
    actor = actor_from(voter, plain=Role.AGENT)
    if not may(actor, Action.VOTE):
        raise NotAllowed(f"{actor.name} may not vote.")
    now = now or timezone.now()
    proposal = proposal_close_if_due(proposal=proposal, now=now)
    if proposal.status != Status.VOTING:
        raise VotingClosed(proposal)
    values = {"choice": Choice(choice).value, "weight": voter_weight(actor.name), "reason": reason}
    name = actor.name
    try:
        with transaction.atomic():
            vote, created = Vote.objects.update_or_create(
                proposal=proposal, voter=name, defaults=values
            )
    except IntegrityError:  # the same voter's other request inserted first: change that vote
        Vote.objects.filter(proposal=proposal, voter=name).update(**values)
        vote, created = Vote.objects.get(proposal=proposal, voter=name), False
    proposal_settle(proposal=proposal)
    return vote, created


def proposal_settle(*, proposal: Proposal) -> Proposal:
    """Close voting early when the remaining electorate can no longer change the outcome."""
    result = proposal_tally(proposal)
    electorate = proposal.electorate
    if electorate is not None and proposal.remedy:
        electorate = max(electorate, remedy_min_voters())  # never settled by fewer voters
    remaining = None if electorate is None else max(electorate - proposal.votes.count(), 0)
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
        return proposal_advance(proposal=proposal, to=outcome.value, by=summary, note=note)
    except IllegalTransition:  # decided meanwhile by someone else
        proposal.refresh_from_db()
        return proposal


def _rejection_reason(result) -> str:
    if not result.quorum_met:
        return f"Quorum not met: {result.voters} of {result.quorum} non-abstaining votes."
    return f"The {result.rule.value} rule was not met."


def voter_weight_set(*, name: str, weight: float, by: Actor, note: str | None = None) -> Voter:
    """Set what a voter's votes weigh (staff only); votes already cast keep their weight."""
    if by.role is not Role.STAFF:
        raise NotAllowed("Only staff set voters' weights.")
    if not 0.01 <= weight <= MAX_WEIGHT:  # early closing assumes no vote weighs more (NaN too)
        raise ValueError(f"A weight is between 0.01 and {MAX_WEIGHT}.")
    values = {"weight": weight, "updated_by": by.name} | (
        {"note": note} if note is not None else {}
    )
    voter, _ = Voter.objects.update_or_create(name=name, defaults=values)
    return voter
