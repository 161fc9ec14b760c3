"""Django's cache (Redis in scale-out) as the chat path uses it: a failure is remembered.

Each call has the client's short socket timeouts (REDIS_TIMEOUT_S, d8site/settings.py). After a
failure this worker skips that cache for REDIS_RETRY_S and answers as a miss, so a Redis that
accepts connections but never answers costs each worker at most one short wait a second, not
one (or two) per chat request. Callers fall back as on a miss: the providers, the database.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import caches

log = logging.getLogger(__name__)


class Breaker:
    """Remembers a failure of one shared service for REDIS_RETRY_S (one per process and alias;
    a race between threads costs at most one more wait)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.down_until = 0.0

    def open(self) -> bool:
        """Whether the service failed within REDIS_RETRY_S: skip it."""
        return self.clock() < self.down_until

    def failed(self, what: str) -> None:
        self.down_until = self.clock() + settings.REDIS_RETRY_S
        log.warning("%s; skipped for %.1fs", what, settings.REDIS_RETRY_S, exc_info=True)


_breakers: dict[str, Breaker] = {}
CLOCK = time.monotonic  # the breakers' clock (tests move their own)


def breaker(name: str) -> Breaker:
    """This process's breaker for one shared service (a cache alias, a Redis URL)."""
    if name not in _breakers:
        _breakers[name] = Breaker(CLOCK)
    return _breakers[name]


def get(key: str, *, alias: str = "default"):
    """The cached value, or None: absent, or the cache failing (now, or within REDIS_RETRY_S)."""
    b = breaker(f"cache:{alias}")
    if b.open():
        return None
    try:
        return caches[alias].get(key)
    except Exception:  # noqa: BLE001 - a cache outage is a miss, never a failed chat
        b.failed(f"Cache {alias!r} unreadable: a miss")
        return None


def put(key: str, value, timeout: float, *, alias: str = "default") -> None:
    """Store `value`, unless the cache is failing (then nothing is stored)."""
    _call(alias, "write", lambda c: c.set(key, value, timeout))


def delete(key: str, *, alias: str = "default") -> None:
    _call(alias, "delete", lambda c: c.delete(key))


def _call(alias: str, what: str, action) -> None:
    b = breaker(f"cache:{alias}")
    if b.open():
        return
    try:
        action(caches[alias])
    except Exception:  # noqa: BLE001 - the caller's work is done; only its sharing is lost
        b.failed(f"Cache {alias!r} failed ({what})")
