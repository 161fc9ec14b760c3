"""Counts summed in memory and written in one go every few hundred milliseconds.

Every answered request touches the same hot rows (the provider, its key, the minute's usage
buckets, the request counter, the agent's usage): written per request, all workers queue on
those row locks and every chat pays a write. Buffered, a worker writes them once per interval
whatever its traffic. Only counts that decide nothing at once are buffered: failures (and so
cooldowns) and the tokens of keys with a daily token limit are still written at once.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time

from django.db import close_old_connections

logger = logging.getLogger(__name__)

_started: list[WriteBuffer] = []  # each is kept alive by its writer thread anyway


def flush_all() -> None:
    """Write what every started buffer holds now: at exit, or earlier (a script about to drop
    its database). Every buffer is tried; the first failure is raised afterwards, its items
    kept."""
    failed: Exception | None = None
    for buffer in list(_started):
        try:
            buffer.flush()
        except Exception as e:  # the others are still written
            failed = failed or e
    if failed is not None:
        raise failed


atexit.register(flush_all)


class WriteBuffer:
    """Items added by any thread, handed to `write` together every `interval_s` seconds.

    The first item starts the writer thread; what is pending when the process exits is written
    then (atexit). A failed write keeps its items for the next one. Subclasses say what `write`
    does and name their thread.
    """

    name = "write-buffer"

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._pending: list = []
        self._thread: threading.Thread | None = None

    def write(self, items: list) -> None:
        raise NotImplementedError

    def add(self, item) -> None:
        with self._lock:
            self._pending.append(item)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
                _started.append(self)

    def flush(self) -> None:
        """Write what is pending; on error keep it for the next flush."""
        with self._lock:
            pending, self._pending = self._pending, []
        if not pending:
            return
        try:
            self.write(pending)
        except Exception:
            with self._lock:
                self._pending[:0] = pending
            raise

    def _run(self) -> None:
        while True:
            time.sleep(self.interval_s)
            try:
                close_old_connections()  # as a request would: drop a connection the DB broke
                self.flush()
            except Exception:
                logger.exception("%s: could not write buffered counts; retrying", self.name)
