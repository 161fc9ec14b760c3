"""django-q2 task bodies: plain functions enqueued by dotted path, calling services."""

from . import remedies_run, votes


def proposal_implement(proposal_id: int) -> str:
    proposal = remedies_run.proposal_implement(proposal_id=proposal_id)
    return proposal.status if proposal else "missing"


def voting_close_due() -> int:
    """Run every minute by the schedule created in migration 0002."""
    return votes.voting_close_due()
