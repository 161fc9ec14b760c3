"""The proposal lifecycle: every legal status change is in TRANSITIONS, and only there."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    VOTING = "voting"
    APPROVED = "approved"
    REJECTED = "rejected"
    IMPLEMENTED = "implemented"
    ARCHIVED = "archived"


S = Status
VALUES = frozenset(s.value for s in Status)
# draft → submitted → under_review → voting → approved | rejected → implemented → archived.
# Anything not yet decided may be withdrawn (archived); a rejection can only be archived.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.DRAFT: frozenset({S.SUBMITTED, S.ARCHIVED}),
    S.SUBMITTED: frozenset({S.UNDER_REVIEW, S.ARCHIVED}),
    S.UNDER_REVIEW: frozenset({S.VOTING, S.ARCHIVED}),
    S.VOTING: frozenset({S.APPROVED, S.REJECTED, S.ARCHIVED}),
    S.APPROVED: frozenset({S.IMPLEMENTED, S.ARCHIVED}),
    S.REJECTED: frozenset({S.ARCHIVED}),
    S.IMPLEMENTED: frozenset({S.ARCHIVED}),
    S.ARCHIVED: frozenset(),
}

UNDECIDED = frozenset({S.DRAFT, S.SUBMITTED, S.UNDER_REVIEW, S.VOTING})

# The timestamp field each status sets when a proposal enters it.
STAMPS = {
    S.SUBMITTED: "submitted_at",
    S.UNDER_REVIEW: "review_started_at",
    S.VOTING: "voting_opened_at",
    S.APPROVED: "decided_at",
    S.REJECTED: "decided_at",
    S.IMPLEMENTED: "implemented_at",
    S.ARCHIVED: "archived_at",
}


class IllegalTransition(Exception):
    """A status change the lifecycle does not allow."""

    def __init__(self, current: str, target: str) -> None:
        self.current, self.target = current, target
        allowed = (
            ", ".join(sorted(TRANSITIONS.get(Status(current), ()))) if current in VALUES else ""
        )
        super().__init__(
            f"A proposal cannot go from '{current}' to '{target}' (allowed: {allowed or 'none'})."
        )


def check_transition(current: str, target: str) -> Status:
    """The target status, if the move from `current` is legal; raises IllegalTransition otherwise."""
    if (
        target not in VALUES
        or current not in VALUES
        or Status(target) not in TRANSITIONS[Status(current)]
    ):
        raise IllegalTransition(current, target)
    return Status(target)
