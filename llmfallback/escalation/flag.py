"""Whether an escalation is open, known to every process without a query per chat request.

This process's memo (a second), else the shared cache (Redis in scale-out), else the database.
Expiry is kept inside the cached value on our own clock, so it holds the same way on Redis
(which expires keys on its clock) and in local memory.
"""

from __future__ import annotations

import time

from ..models import Escalation
from ..ops import shared_cache

CACHE_KEY = "llm:open_escalation"
NONE_OPEN = "none"
FLAG_TTL_S = 30  # a process looks in the DB for an open escalation at most this often on success
MEMO_S = 1.0  # and in the shared cache at most this often: recovery is noticed within a second
_memo: tuple[float, object] = (0.0, None)  # (expires, flag); swapped whole, so no lock is needed


def open_flag():
    """NONE_OPEN, or {"id", "providers"} of the open escalation."""
    global _memo
    now = time.time()
    expires, flag = _memo
    if now < expires:
        return flag
    entry = shared_cache.get(CACHE_KEY)  # None also while the cache fails: the database says
    if isinstance(entry, dict) and entry.get("expires", 0) > now:
        flag = entry["flag"]
    else:
        row = (
            Escalation.objects.filter(status=Escalation.Status.OPEN)
            .values("id", "providers")
            .first()
        )
        flag = flag_store(row or NONE_OPEN)
    _memo = (now + MEMO_S, flag)
    return flag


def flag_store(flag):
    """Share `flag` with every process, and forget this process's memo."""
    global _memo
    shared_cache.put(CACHE_KEY, {"flag": flag, "expires": time.time() + FLAG_TTL_S}, FLAG_TTL_S * 2)
    _memo = (0.0, None)
    return flag


def escalation_flag_forget() -> None:
    """Drop the shared and in-process memory of open escalations (tests, a restored database)."""
    global _memo
    shared_cache.delete(CACHE_KEY)
    _memo = (0.0, None)
