"""Blocking database and Redis work done for a stream that the relay's loop carries, moved off
the loop: one loop thread carries every stream of its worker (d8site/relay.py), and a query run
on it stops them all for as long as it takes.

Under c=1024 a wave of stalled streams recorded their failures one after another on the loop,
each a transaction of four writes: the loop stood still long enough for the next wave's stall
limits to run out, and the failures fed themselves. `off_loop(fn)` makes `fn` run in a small pool
of threads when it is called from a relayed stream, while the stream waits through the loop; the
loop goes on carrying the others. Everywhere else `fn` runs in place, as before. Each call runs
whole in one thread, with that thread's own database connection, given back to the pool after
it: a transaction is never shared between two streams.
"""

from __future__ import annotations

import contextvars
import functools
import threading
from concurrent.futures import ThreadPoolExecutor

from llmfallback.db_pool import db_release
from llmfallback.providers import cooperative

THREADS = 8  # per worker: queries waiting at once for relayed streams
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def off_loop(fn):
    """Decorator: `fn` runs in the off-loop pool when called from a relayed stream."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        wait = cooperative.waiter()
        if wait is None:
            return fn(*args, **kwargs)
        context = contextvars.copy_context()  # the stream's notes and settings go with it
        future = _executor().submit(_released, context.run, fn, *args, **kwargs)
        return cooperative.result(wait, future, None)

    return run


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:  # made in the worker, after gunicorn's fork
                _pool = ThreadPoolExecutor(THREADS, thread_name_prefix="d8-off-loop")
    return _pool


def _released(call, *args, **kwargs):
    try:
        return call(*args, **kwargs)
    finally:
        db_release()
