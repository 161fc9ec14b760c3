"""The tally, as plain arithmetic: no ORM, so every rule is unit-tested without a database."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

MAX_WEIGHT = 10  # a vote's weight is in (0, MAX_WEIGHT]; early closing assumes the worst case


class Rule(StrEnum):
    SIMPLE = "simple"  # more than half of the yes + no weight
    SUPERMAJORITY = "supermajority"  # more than two thirds
    QUALIFIED = "qualified"  # more than three quarters
    UNANIMOUS = "unanimous"  # at least one yes and no "no" at all


class Choice(StrEnum):
    YES = "yes"
    NO = "no"
    ABSTAIN = "abstain"


class Outcome(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"


# Strictly more than this share of the non-abstaining weight must say yes.
THRESHOLDS = {
    Rule.SIMPLE: Fraction(1, 2),
    Rule.SUPERMAJORITY: Fraction(2, 3),
    Rule.QUALIFIED: Fraction(3, 4),
}


@dataclass(frozen=True, slots=True)
class Ballot:
    choice: Choice
    weight: Fraction | float | int = 1


@dataclass(frozen=True, slots=True)
class Tally:
    yes: Fraction
    no: Fraction
    abstain: Fraction
    voters: int  # non-abstaining voters, what the quorum counts
    abstainers: int
    quorum: int
    rule: Rule

    @property
    def quorum_met(self) -> bool:
        return self.voters >= self.quorum

    @property
    def yes_share(self) -> Fraction | None:
        """Yes over yes + no; abstentions are not in the denominator."""
        total = self.yes + self.no
        return self.yes / total if total else None

    @property
    def outcome(self) -> Outcome:
        """What the votes decide if voting closed now."""
        return (
            Outcome.APPROVED
            if self.quorum_met and _passes(self.yes, self.no, self.rule)
            else Outcome.REJECTED
        )

    def as_dict(self) -> dict:
        share = self.yes_share
        return {
            "rule": self.rule.value,
            "yes": float(self.yes),
            "no": float(self.no),
            "abstain": float(self.abstain),
            "voters": self.voters,
            "abstainers": self.abstainers,
            "quorum": self.quorum,
            "quorum_met": self.quorum_met,
            "yes_share": round(float(share), 4) if share is not None else None,
            "outcome_if_closed_now": self.outcome.value,
        }


def tally(ballots: Iterable[Ballot], *, rule: Rule, quorum: int) -> Tally:
    """Add up the ballots under a rule and a quorum of non-abstaining voters."""
    sums = {c: Fraction(0) for c in Choice}
    counts = {c: 0 for c in Choice}
    for ballot in ballots:
        sums[ballot.choice] += Fraction(ballot.weight)
        counts[ballot.choice] += 1
    voters = counts[Choice.YES] + counts[Choice.NO]
    return Tally(
        sums[Choice.YES],
        sums[Choice.NO],
        sums[Choice.ABSTAIN],
        voters,
        counts[Choice.ABSTAIN],
        quorum,
        Rule(rule),
    )


def settled(result: Tally, *, remaining_voters: int | None) -> Outcome | None:
    """The outcome if no remaining voter can change it any more, else None.

    `remaining_voters` is how many eligible voters have not voted (None: unknown electorate,
    so only the deadline closes). Each may still vote yes or no with up to MAX_WEIGHT, or abstain.
    """
    if remaining_voters is None:
        return None
    extra = Fraction(MAX_WEIGHT * remaining_voters)
    best = (
        _passes(result.yes + extra, result.no, result.rule)
        and result.voters + remaining_voters >= result.quorum
    )
    if not best:
        return Outcome.REJECTED
    worst = _passes(result.yes, result.no + extra, result.rule) and result.quorum_met
    return Outcome.APPROVED if worst else None


def _passes(yes: Fraction, no: Fraction, rule: Rule) -> bool:
    if rule is Rule.UNANIMOUS:
        return yes > 0 and no == 0
    total = yes + no
    return bool(total) and yes / total > THRESHOLDS[rule]
