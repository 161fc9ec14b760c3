"""Per-agent limits: requests per minute, tokens per UTC day, the providers a key may use.

Every request is counted once in the key's total, whatever its outcome: a key with limits
when admitted (and one refused over a limit in its total only, never in its minute), any other
with its tokens when it ends, answered or failed. Tokens are checked before a call (a key
already over its day is refused) and added after it from the answer's usage (a stream cut
short: an estimate, http/metering.py), so the calls in flight when a key crosses its daily
limit may take it a little over.

Where the counts are kept (Redis or the key's row) and which are buffered: counters.py.
"""

from __future__ import annotations

import logging

from llmfallback.access import counters
from llmfallback.models import AgentKey
from llmfallback.off_loop import off_loop

log = logging.getLogger(__name__)


class LimitExceeded(Exception):
    """The agent is over a limit; `retry_after` seconds until its window resets."""

    def __init__(self, message: str, *, retry_after: float, kind: str):
        super().__init__(message)
        self.message, self.retry_after, self.kind = message, retry_after, kind


class ProviderNotAllowed(Exception):
    """None of the providers a request could go to is allowed for this key."""

    code = "provider_not_allowed"


class RouteNotAllowed(ProviderNotAllowed):
    """The route a request names is not one this key may use."""

    code = "route_not_allowed"


def request_admit(agent, *, now: float) -> None:
    """Count one request against an agent key's limits, or raise LimitExceeded (nothing counted).

    Anything but an AgentKey (a staff session, the Python API) has no limits. A key without
    limits has its request counted with its tokens after the answer: one write per call.
    """
    if not _limited(agent):
        return
    counter = counters.counter_for()
    over = counter.admit(agent, now)
    if over is not None:
        counter.refused(agent)  # still one of its requests, but none of its minute's
    if over == "tokens":
        raise LimitExceeded(
            f"Agent key '{agent.name}' used its {agent.tokens_per_day} tokens for today (UTC).",
            retry_after=_until_next(now, counters.DAY_S),
            kind="tokens",
        )
    if over == "requests":
        raise LimitExceeded(
            f"Agent key '{agent.name}' reached its {agent.rpm_limit} requests per minute.",
            retry_after=_until_next(now, counters.WINDOW_S),
            kind="requests",
        )


def request_refused(agent, *, now: float) -> None:
    """Count a request refused before admission (a body that could not be read) in the key's
    total: it used none of the minute's requests."""
    if _limited(agent):
        counters.counter_for().refused(agent)
    else:
        tokens_add(agent, 0, now=now)


@off_loop
def tokens_add(agent, tokens: int, *, now: float) -> None:
    """Count an answer's tokens (0 for a cached one) in the agent's day and total, and its
    request if admission did not count it. Buffered unless the key has a daily token limit."""
    if not isinstance(agent, AgentKey):
        return
    tokens, request = max(0, tokens), not _limited(agent)
    buffer = counters.usage_buffer()
    if buffer is None or agent.tokens_per_day is not None:
        counters.counter_for().add(agent, tokens, now, requests=int(request))
    else:
        buffer.add((agent, tokens, int(request), now))


def _limited(agent) -> bool:
    return isinstance(agent, AgentKey) and (
        agent.rpm_limit is not None or agent.tokens_per_day is not None
    )


def allowed_providers(agent) -> frozenset[str] | None:
    """The providers this caller may use, or None for all."""
    return agent.provider_set if isinstance(agent, AgentKey) else None


def usage(agent: AgentKey, *, now: float) -> counters.Usage:
    """An agent's counts; pass a freshly read row (the database keeps them on it)."""
    return counters.counter_for().usage(agent, now)


def _until_next(now: float, size: int) -> float:
    return size - now % size
