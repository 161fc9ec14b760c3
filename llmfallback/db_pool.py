"""This thread's database connections and the worker's pool (psycopg's, Django's `pool`
option): given back before a provider thinks, held for good by the stream relay's loop.
README: "Capacity"."""

from __future__ import annotations

import logging

from django.db import connections

from llmfallback.providers import cooperative

logger = logging.getLogger(__name__)


def db_release(request=None) -> None:
    """Give this thread's PostgreSQL connection back to its pool before a provider is called,
    and before a request's thread sleeps while the stream relay carries its stream (the relay's
    before_wait): a provider thinks and streams for seconds, and a connection held meanwhile by
    each of hundreds of threads went past the server's max_connections, or, from a pool, left
    the stream's own bookkeeping waiting for one. Not inside a transaction (it must end
    first), and not SQLite's (a file: reopening it re-runs its PRAGMAs). Not the stream relay's
    either (db_hold): its thread never waits on a provider, and must never wait for the pool."""
    if cooperative.waiter() is not None:
        return
    for conn in connections.all(initialized_only=True):
        if conn.vendor == "postgresql" and not conn.in_atomic_block:
            conn.close()


def db_hold() -> None:
    """Open this thread's database connections now, to keep: the stream relay's (d8site/relay.py),
    whose one thread carries every stream of its worker. Taken from the pool when the worker
    starts, it is never queued for behind hundreds of request threads while every stream waits;
    it is one of each worker's DATABASE_POOL_SIZE. A database down now is only logged: the
    connection then opens at first use."""
    for conn in connections.all():
        try:
            conn.ensure_connection()
        except Exception:  # noqa: BLE001 - the relay runs without it until the database is back
            logger.warning("stream relay: no database connection yet", exc_info=True)


def db_mend() -> None:
    """After a stream in the relay: a connection the database broke (a restart) is closed, to
    open again at its next use, as Django does at the end of every request."""
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None and conn.errors_occurred and not conn.is_usable():
            conn.close()
