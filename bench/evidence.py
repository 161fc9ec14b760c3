"""What the gateway recorded, read straight from its database, set against the simulator's log.

Plain SQL on purpose: the drill is a witness from outside the service and must not share its
code (or its Django settings) with the process it is judging.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

# Failures whose cooldown belongs to one API key (core/errors.py KEY_SCOPED); the drills run one
# key per provider, so a key's cooldown and its provider's cover the same calls.
KEY_SCOPED = {"rate_limit", "quota", "auth"}
# A call the engine decided to make just before another request recorded the cooldown can land
# a moment after it: reading the state, taking a connection and writing the request take time
# on a loaded two-core box. Calls this soon after a cooldown began count as in flight.
IN_FLIGHT_SLACK_S = 0.5


def rows(db_env: dict, sql: str) -> list[tuple]:
    """Rows of `sql` from the service's database (PostgreSQL URL or SQLite path)."""
    if db_env.get("DATABASE_URL"):
        import psycopg

        with psycopg.connect(db_env["DATABASE_URL"]) as conn:
            return conn.execute(sql).fetchall()
    conn = sqlite3.connect(db_env["SQLITE_PATH"], timeout=30)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def epoch(value) -> float | None:
    """A timestamp column as epoch seconds (PostgreSQL gives datetimes, SQLite UTC text)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


@dataclass(frozen=True)
class Cooldown:
    provider: str
    error_type: str
    began: float
    until: float


def cooldowns(db_env: dict) -> list[Cooldown]:
    """Every cooldown the gateway recorded (one ErrorEvent row each)."""
    found = rows(
        db_env,
        "SELECT provider, error_type, created_at, cooldown_until FROM llmfallback_errorevent "
        "WHERE cooldown_until IS NOT NULL ORDER BY created_at",
    )
    return [Cooldown(p, kind, epoch(at), epoch(until)) for p, kind, at, until in found]


def failures_by_type(db_env: dict) -> dict[str, int]:
    """Recorded failures per "provider error_type"."""
    found = rows(
        db_env,
        "SELECT provider, error_type, COUNT(*) FROM llmfallback_errorevent "
        "GROUP BY provider, error_type",
    )
    return {f"{p} {kind}": n for p, kind, n in sorted(found)}


@dataclass(frozen=True)
class CooldownCall:
    provider: str
    at: float
    served: str
    cooldown: Cooldown

    @property
    def into_s(self) -> float:
        return self.at - self.cooldown.began


def calls_in_cooldown(calls: list[dict], found: list[Cooldown]) -> list[CooldownCall]:
    """Simulator calls that arrived while the gateway had that provider cooling down."""
    by_provider: dict[str, list[Cooldown]] = {}
    for c in found:
        by_provider.setdefault(c.provider, []).append(c)
    hits = []
    for call in calls:
        for c in by_provider.get(call["provider"], ()):
            if c.began < call["t"] < c.until:
                hits.append(CooldownCall(call["provider"], call["t"], call["served"], c))
                break
    return hits


def split_in_flight(hits: list[CooldownCall], slack_s: float = IN_FLIGHT_SLACK_S):
    """(calls within slack_s of their cooldown's start, calls later than that: violations)."""
    early = [h for h in hits if h.into_s <= slack_s]
    return early, [h for h in hits if h.into_s > slack_s]


# The policy table of PROVIDERS.md: each class's base cooldown, and the cap of those that back
# off. A rate limit or quota without a hint gets its base; with one, the hint (chaos names at most
# the burst's last seconds), so the base is an upper bound either way.
BASE_S = {
    "unavailable": 10.0,
    "invalid_response": 10.0,
    "unknown": 5.0,
    "timeout": 30.0,
    "rate_limit": 60.0,
    "quota": 3 * 3600.0,
}
CAP_S = {"unavailable": 300.0, "invalid_response": 300.0, "unknown": 80.0}
JITTER = 0.1  # the policy adds up to 10 % so workers do not all come back at once
CLOCK_SLACK_S = 1.0


def overlong_cooldowns(found: list[Cooldown]) -> list[tuple[Cooldown, float]]:
    """Cooldowns longer than their class allows for the provider's episode: (cooldown, allowed).

    Backoff counts episodes: it may double only when the provider fails again after its last
    cooldown ended. Failures of requests already in flight during a cooldown, and retries
    inside one request, belong to the episode under way. Successes between episodes (which
    reset the backoff) are not seen here, so the allowance is an upper bound.
    """
    too_long, state = [], {}
    for c in sorted(found, key=lambda c: c.began):
        episodes, cooling_until = state.get(c.provider, (-1, 0.0))
        if c.began >= cooling_until:
            episodes += 1
        base = BASE_S.get(c.error_type, CAP_S["unavailable"])
        if c.error_type in CAP_S:
            base = min(base * 2**episodes, CAP_S[c.error_type])
        allowed = base * (1 + JITTER) + CLOCK_SLACK_S
        if c.until - c.began > allowed:
            too_long.append((c, allowed))
        state[c.provider] = (episodes, max(cooling_until, c.until))
    return too_long


@dataclass(frozen=True)
class EscalationRow:
    number: int
    trigger: str
    status: str
    opened_at: float
    closed_at: float | None


def escalations(db_env: dict) -> list[EscalationRow]:
    found = rows(
        db_env,
        "SELECT number, trigger, status, opened_at, closed_at FROM llmfallback_escalation "
        "ORDER BY number",
    )
    return [EscalationRow(n, t, s, epoch(o), epoch(c)) for n, t, s, o, c in found]


def incidents(bursts: list[dict], started_at: float, until: float, settle_s: float) -> list:
    """Fault bursts (any provider) merged when less than settle_s apart: [(start, end, n)]."""
    spans = sorted(
        (started_at + b["start"], started_at + b["end"])
        for b in bursts
        if started_at + b["start"] < until
    )
    merged: list[list] = []
    for start, end in spans:
        if merged and start - merged[-1][1] < settle_s:
            merged[-1][1] = max(merged[-1][1], end)
            merged[-1][2] += 1
        else:
            merged.append([start, end, 1])
    return [tuple(m) for m in merged]
