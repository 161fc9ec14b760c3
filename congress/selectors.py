"""Read-only queries for the API and the admin."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Proposal
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
    return tally(ballots, rule=Rule(proposal.voting_rule), quorum=proposal.quorum)
