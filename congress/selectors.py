"""Read-only queries for the API and the admin."""

from __future__ import annotations

from django.db.models import QuerySet

from .authority import remedy_min_voters
from .models import Proposal, Voter
from .voting import Ballot, Choice, Rule, Tally, tally


def proposal_list(
    *, status: str = "", category: str = "", priority: int | None = None
) -> QuerySet[Proposal]:
    proposals = Proposal.objects.all()
    if status:
        proposals = proposals.filter(status=status)
    if category:
        proposals = proposals.filter(category=category)
    if priority is not None:
        proposals = proposals.filter(priority=priority)
    return proposals


def proposal_tally(proposal: Proposal) -> Tally:
    ballots = [Ballot(Choice(c), w) for c, w in proposal.votes.values_list("choice", "weight")]
    return tally(ballots, rule=Rule(proposal.voting_rule), quorum=effective_quorum(proposal))


def effective_quorum(proposal: Proposal) -> int:
    """A remedy never passes with fewer distinct voters than the bound, whatever was stored."""
    if proposal.remedy:
        return max(proposal.quorum, remedy_min_voters())
    return proposal.quorum


def voter_weight(name: str) -> float:
    """What `name`'s votes weigh: its Voter record, else 1."""
    return Voter.objects.filter(name=name).values_list("weight", flat=True).first() or 1.0
