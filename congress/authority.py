"""Who may do what in the Congress, in one place. Views, the admin and services ask here.

| action                      | agent key | operator key | staff user | system (escalations) |
|-----------------------------|-----------|--------------|------------|----------------------|
| read proposals, tallies     | yes       | yes          | yes        | -                    |
| file a proposal             | yes       | yes          | yes        | yes                  |
| vote (weight from its Voter record) | yes | yes        | yes        | -                    |
| change a proposal's status  | no        | yes          | yes        | yes                  |
| read an escalation's detail | no        | yes          | yes        | -                    |
| reset / enable / move providers | no    | yes          | yes        | -                    |
| set voters' weights         | no        | no           | yes (admin)| -                    |

A proposal carrying a remedy runs it only after an approval no single agent key can produce:
an operator's or staff member's decision, or a vote of at least REMEDY_MIN_VOTERS distinct
non-abstaining voters. Its quorum and electorate never go below that bound, whatever it was filed
with, and every vote weighs what the voter's record says, never what a request asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings


class Role(StrEnum):
    AGENT = "agent"
    OPERATOR = "operator"
    STAFF = "staff"
    SYSTEM = "system"


class Action(StrEnum):
    FILE = "file"
    VOTE = "vote"
    TRANSITION = "transition"
    ESCALATION_DETAIL = "escalation_detail"
    PROVIDER_CHANGE = "provider_change"


RULES: dict[Action, frozenset[Role]] = {
    Action.FILE: frozenset(Role),
    Action.VOTE: frozenset({Role.AGENT, Role.OPERATOR, Role.STAFF}),
    Action.TRANSITION: frozenset({Role.OPERATOR, Role.STAFF, Role.SYSTEM}),
    Action.ESCALATION_DETAIL: frozenset({Role.OPERATOR, Role.STAFF}),
    Action.PROVIDER_CHANGE: frozenset({Role.OPERATOR, Role.STAFF}),
}
DECIDERS = frozenset({Role.OPERATOR, Role.STAFF})


@dataclass(frozen=True, slots=True)
class Actor:
    name: str  # "agent:<key name>", "user:<username>" or "<app>:<what>" for the system
    role: Role

    def __str__(self) -> str:
        return self.name


def actor_of(user) -> Actor:
    """The actor behind a request's user: an agent key (llmfallback's AgentKey) or a person."""
    if hasattr(user, "key_hash"):  # an agent key; congress imports nothing of llmfallback
        return Actor(f"agent:{user.name}", Role.OPERATOR if user.is_operator else Role.AGENT)
    role = Role.STAFF if getattr(user, "is_staff", False) else Role.AGENT
    return Actor(f"user:{user.get_username()}", role)


def actor_from(value: Actor | str, *, plain: Role = Role.SYSTEM) -> Actor:
    """Actors come from requests (actor_of); a plain name is our own code,
    or (for votes) a voter with no more rights than an agent.
    """
    return value if isinstance(value, Actor) else Actor(value, plain)


def system(name: str) -> Actor:
    return Actor(name, Role.SYSTEM)


def may(actor: Actor, action: Action) -> bool:
    return actor.role in RULES[action]


def remedy_min_voters() -> int:
    """Distinct non-abstaining voters a vote needs before it can approve a remedy."""
    return max(int(settings.CONGRESS_REMEDY_MIN_VOTERS), 2)
