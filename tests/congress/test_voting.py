"""The tally's arithmetic: every rule, quorum, abstentions, weights, early closing."""

from fractions import Fraction

import pytest

from congress.voting import Ballot, Choice, Outcome, Rule, settled, tally

Y, N, A = Choice.YES, Choice.NO, Choice.ABSTAIN


def outcome(choices, rule, quorum=1):
    return tally([Ballot(c) for c in choices], rule=rule, quorum=quorum).outcome


@pytest.mark.parametrize(
    "rule, passing, failing",
    [
        (Rule.SIMPLE, [Y, Y, N], [Y, N]),  # 2/3 > 1/2; exactly half is not more than half
        (Rule.SUPERMAJORITY, [Y, Y, Y, N], [Y, Y, N]),  # 3/4 > 2/3; exactly 2/3 is not
        (Rule.QUALIFIED, [Y, Y, Y, Y, N], [Y, Y, Y, N]),  # 4/5 > 3/4; exactly 3/4 is not
        (Rule.UNANIMOUS, [Y, Y, Y], [Y, Y, Y, N]),
    ],
)
def test_each_rule_needs_strictly_more_than_its_share(rule, passing, failing):
    assert outcome(passing, rule) is Outcome.APPROVED
    assert outcome(failing, rule) is Outcome.REJECTED


@pytest.mark.parametrize("rule", list(Rule))
def test_abstentions_are_not_in_the_denominator(rule):
    assert outcome([Y, A, A, A, A], rule) is Outcome.APPROVED


@pytest.mark.parametrize("rule", list(Rule))
def test_only_abstentions_never_approve(rule):
    assert outcome([A, A], rule, quorum=0) is Outcome.REJECTED


@pytest.mark.parametrize("rule", list(Rule))
def test_the_quorum_counts_non_abstaining_voters(rule):
    assert outcome([Y, Y, A, A], rule, quorum=3) is Outcome.REJECTED
    assert outcome([Y, Y, Y, A], rule, quorum=3) is Outcome.APPROVED


def test_weights_count_in_the_share_but_not_in_the_quorum():
    result = tally([Ballot(Y, 3), Ballot(N, 1), Ballot(N, 1)], rule=Rule.SIMPLE, quorum=3)
    assert result.yes_share == Fraction(3, 5)
    assert result.voters == 3 and result.outcome is Outcome.APPROVED


def test_the_tally_reports_its_figures():
    data = tally([Ballot(Y), Ballot(N), Ballot(A)], rule=Rule.SIMPLE, quorum=2).as_dict()
    assert data == {
        "rule": "simple",
        "yes": 1.0,
        "no": 1.0,
        "abstain": 1.0,
        "voters": 2,
        "abstainers": 1,
        "quorum": 2,
        "quorum_met": True,
        "yes_share": 0.5,
        "outcome_if_closed_now": "rejected",
    }


def test_an_unknown_electorate_never_settles_early():
    assert (
        settled(tally([Ballot(Y)] * 9, rule=Rule.SIMPLE, quorum=1), remaining_voters=None) is None
    )


def test_it_settles_approved_when_remaining_voters_cannot_outweigh_the_yes():
    # 25 yes; one remaining voter may add at most 10 no: 25/35 > 1/2 still.
    result = tally([Ballot(Y)] * 25, rule=Rule.SIMPLE, quorum=1)
    assert settled(result, remaining_voters=1) is Outcome.APPROVED
    assert settled(result, remaining_voters=3) is None


def test_it_settles_rejected_when_the_quorum_is_out_of_reach():
    result = tally([Ballot(Y)], rule=Rule.SIMPLE, quorum=3)
    assert settled(result, remaining_voters=1) is Outcome.REJECTED
    assert settled(result, remaining_voters=2) is None


def test_it_settles_rejected_when_a_unanimous_vote_has_a_no():
    result = tally([Ballot(Y), Ballot(N)], rule=Rule.UNANIMOUS, quorum=1)
    assert settled(result, remaining_voters=5) is Outcome.REJECTED


def test_approval_waits_for_the_quorum_even_if_everyone_agrees():
    result = tally([Ballot(Y)], rule=Rule.SIMPLE, quorum=2)
    assert settled(result, remaining_voters=1) is None  # the last voter could abstain
    assert (
        settled(tally([Ballot(Y)] * 2, rule=Rule.SIMPLE, quorum=2), remaining_voters=0)
        is Outcome.APPROVED
    )
