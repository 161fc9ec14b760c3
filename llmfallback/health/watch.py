"""Provider health pushed to each worker by PostgreSQL, instead of read before every attempt.

The engine asks for a provider key's state before every attempt, so that no worker calls a
provider another worker has cooled. Read from the database each time, that is a round trip per
attempt, and on a busy gateway the round trip (sleeping on the socket and waking again) was the
largest single cost of a request after the provider call itself (~0.3 ms of CPU, bench/).

With PostgreSQL, triggers (migrations 0012 and 0013) send a NOTIFY on the `d8_health` channel
whenever a row's blocking state changes: a cooldown, an unavailability, enabling or disabling,
a provider's priority, a cooldown episode, a key or provider added or removed; and only then.
Migration 0014 adds what an agent key lets its caller do (revoked, limits, providers), so the
keys each worker remembers (agent_keys.agent_for_key) are read again on the same news.
Each worker keeps one listening connection and a copy of every row. A notification marks the
copy stale, and the next attempt reads all rows again in one query. Between changes, an attempt
reads no row at all.

The guarantee stays what it was: a change is seen by every attempt that starts after its
commit reached the worker (sub-millisecond on one network), as before an attempt that had
already read the row went ahead. Where the copy cannot be trusted the worker reads the row
itself, as before:
- while the listener is not connected (starting, or PostgreSQL gone: it reconnects, and the
  copy is read afresh after);
- inside a transaction (the caller may hold changes of its own that no one was told about);
- after this process changed health itself, until it reads again (no wait for its own echo).
A listening connection that stops answering is found by a ping every PING_S.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

from llmfallback.models import KeyHealth, ProviderHealth

logger = logging.getLogger(__name__)

CHANNEL = "d8_health"
PING_S = 1.0
RETRY_S = 1.0


class HealthWatch:
    """One process's copy of every key's state row, kept by LISTEN d8_health."""

    def __init__(self, read_all, connect, *, ping_s: float = PING_S) -> None:
        """read_all(): {(provider, key): row} on the caller's connection; connect(): a new
        autocommit psycopg connection for listening; ping_s: how often it is checked."""
        self.ping_s = ping_s
        self._read_all = read_all
        self._connect = connect
        self._lock = threading.Lock()
        self._rows: dict | None = None  # None: stale, read again before use
        self._generation = 0  # counts changes, so a read that raced one is not kept
        self._listening = False
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def row(self, provider: str, key: str, read_one):
        """The state row of (provider, key): from the copy when it can be trusted, else
        read_one(provider, key) on the caller's connection."""
        if not self._trusted():
            return read_one(provider, key)
        rows = self._rows
        if rows is None:
            rows = self._refresh()
        return rows.get((provider, key))

    def version(self) -> int | None:
        """A number that moves with every change heard, for what a caller derives from the
        watched rows (runtime.provider_order, agent_keys.agent_for_key): the same number, the
        same rows. None whenever the copy itself would not be trusted (see row); such a caller
        keeps its own expiry."""
        return self._generation if self._trusted() else None

    def _trusted(self) -> bool:
        """Whether the copy may answer now; starts the listener when it is not running."""
        if connection.in_atomic_block:
            return False
        if not self._listening:
            self._start()
            return False
        return True

    def changed(self) -> None:
        """Health changed here or elsewhere: read all rows again before the next use."""
        with self._lock:
            self._generation += 1
            self._rows = None

    def _refresh(self) -> dict:
        with self._lock:
            if self._rows is not None:
                return self._rows
            seen = self._generation
        rows = self._read_all()
        with self._lock:
            # Kept only if nothing changed while reading, and someone is still listening.
            if self._generation == seen and self._listening:
                self._rows = rows
        return rows

    def _start(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name=CHANNEL, daemon=True)
                    self._thread.start()

    def stop(self) -> None:
        """Stop listening (within ping_s) and close the connection; reads go per attempt."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=self.ping_s + 5)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._listen()
            except Exception as e:  # noqa: BLE001 - any failure: fall back, then reconnect
                logger.warning("Health notifications lost (%s); reading health per attempt", e)
            finally:
                self._listening = False
                self.changed()
            self._stopping.wait(RETRY_S)

    def _listen(self) -> None:
        with self._connect() as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            self.changed()  # whatever happened before LISTEN was not heard
            self._listening = True
            while not self._stopping.is_set():
                for _ in conn.notifies(timeout=self.ping_s):
                    self.changed()
                conn.execute("SELECT 1")  # a dead connection raises here, not never


# --- This process's watch, on the Django connection ------------------------------------------

ALL_STATES_SQL = f"""
SELECT p.name, k.label, k.cooldown_until, k.is_unavailable, p.cooldown_until, p.is_unavailable,
       p.is_enabled, p.cooldown_episodes, p.probe_until
FROM {KeyHealth._meta.db_table} k JOIN {ProviderHealth._meta.db_table} p ON p.id = k.provider_id
"""


def _all_state_rows() -> dict:
    try:
        return _fetch_all()
    except (InterfaceError, OperationalError):
        if connection.in_atomic_block:
            raise
        connection.close()  # a persistent connection the database dropped: reconnect once
        return _fetch_all()


def _fetch_all() -> dict:
    with connection.cursor() as cursor:
        cursor.execute(ALL_STATES_SQL)
        return {(row[0], row[1]): row[2:] for row in cursor.fetchall()}


def _listening_connection():
    import psycopg

    params = connection.get_connection_params()
    for django_only in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(django_only, None)
    return psycopg.connect(**params, autocommit=True)


_watch: HealthWatch | None = None


def health_watch() -> HealthWatch | None:
    """This process's NOTIFY-kept copy of health, on PostgreSQL with LLM_HEALTH_NOTIFY on."""
    global _watch
    if not settings.LLM_HEALTH_NOTIFY or connection.vendor != "postgresql":
        return None
    if _watch is None:
        _watch = HealthWatch(_all_state_rows, _listening_connection)
    return _watch


def changed_here() -> None:
    """This process changed health: its own next attempt must not wait for the echo."""
    if _watch is not None:
        _watch.changed()


def health_watch_stop() -> None:
    """Stop this process's watch (tests, before their database is dropped)."""
    global _watch
    if _watch is not None:
        _watch.stop()
        _watch = None
