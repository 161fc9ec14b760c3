"""Every legal and illegal status change, through the service, with its timestamp."""

import itertools

import pytest

from congress import services
from congress.lifecycle import STAMPS, TRANSITIONS, IllegalTransition, Status, check_transition
from congress.models import Proposal

LEGAL = [(a, b) for a, targets in TRANSITIONS.items() for b in sorted(targets)]
ILLEGAL = [(a, b) for a, b in itertools.product(Status, Status) if b not in TRANSITIONS[a]]


def test_the_table_is_the_seeds_lifecycle():
    path = [
        Status.DRAFT,
        Status.SUBMITTED,
        Status.UNDER_REVIEW,
        Status.VOTING,
        Status.APPROVED,
        Status.IMPLEMENTED,
        Status.ARCHIVED,
    ]
    for a, b in itertools.pairwise(path):
        assert b in TRANSITIONS[a]
    assert TRANSITIONS[Status.VOTING] >= {Status.APPROVED, Status.REJECTED}
    assert TRANSITIONS[Status.ARCHIVED] == frozenset()


@pytest.mark.django_db
@pytest.mark.parametrize("current, target", LEGAL)
def test_a_legal_transition_moves_and_stamps(current, target):
    proposal = Proposal.objects.create(title="t", proposed_by="user:a", status=current)
    moved = services.proposal_transition(proposal=proposal, to=target, by="user:b", note="why")
    assert moved.status == target
    assert getattr(moved, STAMPS[target]) is not None
    if target in (Status.APPROVED, Status.REJECTED):
        assert moved.decided_by == "user:b"
    if target is Status.REJECTED:
        assert moved.rejection_note == "why"


@pytest.mark.django_db
@pytest.mark.parametrize("current, target", ILLEGAL)
def test_an_illegal_transition_raises_and_changes_nothing(current, target):
    proposal = Proposal.objects.create(title="t", proposed_by="user:a", status=current)
    with pytest.raises(IllegalTransition) as info:
        services.proposal_transition(proposal=proposal, to=target, by="user:b")
    assert (info.value.current, info.value.target) == (current, target)
    assert Proposal.objects.get(pk=proposal.pk).status == current


def test_an_unknown_status_is_illegal():
    with pytest.raises(IllegalTransition, match="cannot go from 'draft' to 'done'"):
        check_transition("draft", "done")


@pytest.mark.django_db
def test_a_stale_object_cannot_move_twice():
    proposal = Proposal.objects.create(title="t", proposed_by="user:a", status=Status.VOTING)
    stale = Proposal.objects.get(pk=proposal.pk)
    services.proposal_transition(proposal=proposal, to=Status.APPROVED, by="user:a")
    with pytest.raises(IllegalTransition):
        services.proposal_transition(proposal=stale, to=Status.REJECTED, by="user:b")
    assert Proposal.objects.get(pk=proposal.pk).status == Status.APPROVED
