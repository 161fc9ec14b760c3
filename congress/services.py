"""What agents and people can do in the Congress. Views, admin actions and tasks call these."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from . import listeners, remedies
from .authority import Action, Actor, Role, may, remedy_min_voters
from .lifecycle import STAMPS, UNDECIDED, IllegalTransition, Status, check_transition
from .models import Proposal, Vote, Voter
from .selectors import proposal_tally, voter_weight
from .voting import MAX_WEIGHT, Choice, Outcome, settled

logger = logging.getLogger(__name__)

VOTING_PERIOD = timedelta(hours=24)  # when a proposal opens for voting without a deadline
TALLY_ACTOR = "congress:tally"


class VotingClosed(Exception):
    """Votes are accepted only while a proposal is in voting and before its deadline."""

    def __init__(self, proposal: Proposal) -> None:
        super().__init__(f"Voting on {proposal.code} is closed (status '{proposal.status}').")


class NotAllowed(PermissionError):
    """The actor's role may not do this (see congress/authority.py)."""


class RemedyBounds(ValueError):
    """Voting settings below what a remedy-carrying proposal needs."""


def _actor(value: Actor | str, *, plain: Role = Role.SYSTEM) -> Actor:
    """Actors come from requests (congress.authority.actor_of); a plain name is our own code,
    or (for votes) a voter with no more rights than an agent.
    """
    return value if isinstance(value, Actor) else Actor(value, plain)


def proposal_create(
    *, title: str, proposed_by: Actor | str, open_voting: bool = False, **fields
) -> Proposal:
    """File a proposal (a draft; submitted and opened for voting at once if `open_voting`).

    A remedy is checked against the registry now (UnknownRemedy, InvalidRemedy), and its
    proposal gets a quorum and electorate no lower than authority.remedy_min_voters().
    """
    actor = _actor(proposed_by)
    fields = proposal_fields_check(fields)
    proposal = Proposal.objects.create(title=title, proposed_by=actor.name, **fields)
    if open_voting:
        for step in (Status.SUBMITTED, Status.UNDER_REVIEW, Status.VOTING):
            proposal = _advance(proposal, step, by=actor.name)
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
    actor = _actor(by)
    if not may(actor, Action.TRANSITION):
        raise NotAllowed("Status changes need an operator key or a staff account.")
    return _advance(proposal, to, by=actor.name, note=note)


def _advance(proposal: Proposal, to: str, *, by: str, note: str = "") -> Proposal:
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
    actor = _actor(voter, plain=Role.AGENT)
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
        return _advance(proposal, outcome.value, by=summary, note=note)
    except IllegalTransition:  # decided meanwhile by someone else
        proposal.refresh_from_db()
        return proposal


def _rejection_reason(result) -> str:
    if not result.quorum_met:
        return f"Quorum not met: {result.voters} of {result.quorum} non-abstaining votes."
    return f"The {result.rule.value} rule was not met."


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
        return _advance(proposal, Status.IMPLEMENTED, by=TALLY_ACTOR, note=note)


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


def remedy_retry(*, proposal: Proposal, by: Actor | str) -> bool:
    """Queue an approved proposal's failed remedy again (admin action). False if nothing to retry."""
    if not may(_actor(by), Action.TRANSITION):
        raise NotAllowed("Retrying a remedy needs an operator key or a staff account.")
    if proposal.status != Status.APPROVED or not proposal.remedy:
        return False
    transaction.on_commit(lambda: _enqueue_implementation(proposal.pk))
    return True


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


def proposal_close(*, proposal: Proposal, note: str, by: str) -> bool:
    """Archive a proposal nobody has decided yet, with a resolution note. False if already decided."""
    if proposal.status not in UNDECIDED:
        return False
    try:
        _advance(proposal, Status.ARCHIVED, by=str(by), note=note)
    except IllegalTransition:
        return False
    return True
