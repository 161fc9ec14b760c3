"""The web workers' own counts (in flight, queued, shed), shared by all workers of one server.

A table in anonymous shared memory, made when gunicorn's master imports the worker class
(gunicorn_worker.py), before it forks: every worker writes its own row and any worker's
/metrics or dashboard reads them all. Outside gunicorn (runserver, the tests) the table is this
process's alone, and empty unless something writes it.
"""

from __future__ import annotations

import mmap
import multiprocessing
import os
from collections.abc import Callable

FIELDS = (
    "pid",
    "in_flight",  # requests a thread is serving
    "queued",  # whole requests waiting for a thread
    "relayed",  # streams past their first chunk, relayed by the worker's loop (relay.py)
    "shed_queue_full",  # answered 503 at once: the queue was full
    "shed_queue_timeout",  # answered 503 by their thread: they waited past WEB_QUEUE_WAIT_S
    "dropped_client_gone",  # closed unanswered: the client left before a thread took them
    "refused_address_limit",  # connections closed at once: their address had too many unread
    "read_timeouts",  # connections closed: no whole request within WEB_READ_TIMEOUT_S
)
COUNTERS = FIELDS[4:]
SLOTS = 128
_WIDTH = len(FIELDS)


class WebStats:
    def __init__(self, slots: int = SLOTS, alive: Callable[[int], bool] | None = None) -> None:
        self._mem = mmap.mmap(-1, slots * _WIDTH * 8)  # MAP_SHARED: children see the writes
        self._cells = memoryview(self._mem).cast("q")
        self._claim = multiprocessing.Lock()
        self._alive = alive or _alive
        self.slots = slots

    def claim(self, pid: int) -> Row:
        """This worker's row: a free one, or one whose worker has died (its counts restart)."""
        with self._claim:
            for slot in range(self.slots):
                owner = self._cells[slot * _WIDTH]
                if owner == 0 or owner == pid or not self._alive(owner):
                    base = slot * _WIDTH
                    self._cells[base : base + _WIDTH] = memoryview(bytes(_WIDTH * 8)).cast("q")
                    self._cells[base] = pid
                    return Row(self._cells, base)
        raise RuntimeError(f"more than {self.slots} web workers")

    def rows(self) -> list[dict[str, int]]:
        """One dict per live worker."""
        out = []
        for slot in range(self.slots):
            base = slot * _WIDTH
            pid = self._cells[base]
            if pid and self._alive(pid):
                out.append(
                    dict(zip(FIELDS, self._cells[base : base + _WIDTH].tolist(), strict=True))
                )
        return out

    def totals(self) -> dict[str, int]:
        """Every field but pid summed over the live workers, and how many there are."""
        rows = self.rows()
        totals = {name: sum(r[name] for r in rows) for name in FIELDS[1:]}
        return totals | {"workers": len(rows)}


class Row:
    """One worker's row. Written by its main thread, and by its request threads for the rare
    counters (under the caller's lock)."""

    def __init__(self, cells, base: int) -> None:
        self._cells, self._base = cells, base

    def set(self, name: str, value: int) -> None:
        self._cells[self._base + FIELDS.index(name)] = value

    def add(self, name: str, n: int = 1) -> None:
        i = self._base + FIELDS.index(name)
        self._cells[i] += n

    def get(self, name: str) -> int:
        return self._cells[self._base + FIELDS.index(name)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


STATS = WebStats()  # made at import: in gunicorn's master, before the workers fork
