"""How long to wait before a retry, and how much time one attempt may take.

Plain functions of the engine's settings (EngineSettings), so the policy reads in one place.
"""

from __future__ import annotations

from collections.abc import Callable

from .errors import TRANSIENT, ErrorKind, ProviderError
from .types import Timeouts


def retry_wait(
    settings, error: ProviderError, retry: int, *, rng: Callable[[], float], named_ok: bool
) -> float | None:
    """Seconds to wait before retrying the same key, or None: this failure is final.

    Transient classes are retried with jittered exponential backoff, never before a wait the
    provider named. A rate limit that names a wait is retried once when `named_ok` (the engine
    allows it on the call's first provider, from its last key). Either way only while the wait
    is at most the cap; the caller checks it fits the time left.
    """
    if error.refuses_request or retry >= settings.max_retries_per_provider:
        return None
    if error.kind in TRANSIENT:
        backoff = settings.retry_backoff_s * 2**retry * (1 + rng())
        wait = max(backoff, error.retry_after or 0.0)
    elif named_ok and retry == 0 and _names_a_wait(error):
        wait = error.retry_after
    else:
        return None
    return wait if wait <= settings.retry_wait_cap_s else None


def _names_a_wait(error: ProviderError) -> bool:
    return error.kind is ErrorKind.RATE_LIMIT and error.retry_after is not None


def attempt_time(settings, remaining: float, *, more: bool) -> float:
    """The time one attempt may take: all that is left for the last provider, a share of it
    (with a floor) while others remain to fall back to."""
    if not more:
        return remaining
    return min(remaining, max(settings.attempt_floor_s, settings.attempt_share * remaining))


def attempt_timeouts(settings, remaining: float, *, more: bool) -> Timeouts:
    """A whole answer's limits: the attempt budget within its share, connect and idle read."""
    total = min(settings.attempt_timeout_s, attempt_time(settings, remaining, more=more))
    return Timeouts(
        connect=min(settings.connect_timeout_s, total),
        read=min(settings.read_timeout_s, total),
        total=total,
    )
