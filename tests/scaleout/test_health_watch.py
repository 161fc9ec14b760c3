"""Health pushed by PostgreSQL (llmfallback/health/watch.py): a worker's copy is read again
exactly when a blocking column changes, never between, and never trusted without a listener.

Runs against a fresh, migrated PostgreSQL database of its own, whatever the suite runs on (the
triggers are what is under test): CI runs it in its PostgreSQL pass. The copy's own logic is
driven through a real LISTEN connection.
"""

from __future__ import annotations

import os
import threading
import time

import psycopg
import pytest

from llmfallback.health.watch import HealthWatch
from tests.scaleout.conftest import _manage

pytestmark = pytest.mark.database("postgresql")

MISSING = object()


@pytest.fixture(scope="module")
def pg_url():
    """A fresh PostgreSQL database with every migration (the triggers among them)."""
    from tests.conftest import POSTGRES_ADMIN_URL, _postgres_admin

    name = f"d8_watch_{os.getpid()}_{time.monotonic_ns() % 10**8}"
    admin = _postgres_admin()
    admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    try:
        _manage(os.environ | {"DATABASE_URL": url, "REDIS_URL": ""}, "migrate", "-v0")
        yield url
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def pg(pg_url):
    """Rows for groq/k1 and gemini/k1, afresh: (url, autocommit connection)."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM llmfallback_keyhealth")
        conn.execute("DELETE FROM llmfallback_providerhealth")
        for provider in ("groq", "gemini"):
            conn.execute(
                "INSERT INTO llmfallback_providerhealth (name, is_enabled, is_unavailable,"
                " consecutive_failures, total_requests, total_failures, latency_total_ms,"
                " cooldown_episodes, last_error_type, last_error_message, priority) VALUES"
                " (%s, true, false, 0, 0, 0, 0, 0, '', '', 0)",
                [provider],
            )
            conn.execute(
                "INSERT INTO llmfallback_keyhealth (provider_id, label, is_unavailable,"
                " consecutive_failures, total_requests, total_failures, latency_total_ms,"
                " last_error_type, last_error_message, fingerprint) SELECT id, 'k1', false,"
                " 0, 0, 0, 0, '', '', '' FROM llmfallback_providerhealth WHERE name = %s",
                [provider],
            )
        yield pg_url, conn


class Reader:
    """read_all on its own connection, counting its reads."""

    def __init__(self, url: str):
        self.conn = psycopg.connect(url, autocommit=True)
        self.reads = 0

    def __call__(self) -> dict:
        self.reads += 1
        rows = self.conn.execute(
            "SELECT p.name, k.label, k.cooldown_until, p.is_enabled FROM llmfallback_keyhealth k"
            " JOIN llmfallback_providerhealth p ON p.id = k.provider_id"
        ).fetchall()
        return {(r[0], r[1]): r[2:] for r in rows}


@pytest.fixture
def watch(pg):
    url, _ = pg
    reader = Reader(url)
    watch = HealthWatch(reader, lambda: psycopg.connect(url, autocommit=True), ping_s=0.05)
    watch.reader = reader
    yield watch
    watch.stop()
    reader.conn.close()


def direct(provider, key):
    return MISSING  # what row() answers when it does not trust its copy


def listening(watch) -> None:
    watch.row("groq", "k1", direct)  # the first call starts the listener
    deadline = time.monotonic() + 10
    while watch.row("groq", "k1", direct) is MISSING:
        assert time.monotonic() < deadline, "the listener never connected"
        time.sleep(0.01)


def eventually(check, timeout=5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_between_changes_no_attempt_reads_the_database(watch):
    listening(watch)
    reads = watch.reader.reads
    for _ in range(200):
        assert watch.row("groq", "k1", direct)[0] is None  # not cooling
    assert watch.reader.reads == reads


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE llmfallback_providerhealth SET cooldown_until = now() + interval '30 s'"
        " WHERE name = 'groq'",
        "UPDATE llmfallback_providerhealth SET is_enabled = false WHERE name = 'groq'",
        "UPDATE llmfallback_providerhealth SET cooldown_episodes = 2 WHERE name = 'groq'",
        "UPDATE llmfallback_providerhealth SET priority = 5 WHERE name = 'groq'",
        "UPDATE llmfallback_keyhealth SET is_unavailable = true",
        "UPDATE llmfallback_keyhealth SET cooldown_until = now() + interval '5 s'",
        "DELETE FROM llmfallback_keyhealth WHERE label = 'k1' AND provider_id ="
        " (SELECT id FROM llmfallback_providerhealth WHERE name = 'gemini')",
    ],
)
def test_a_committed_change_of_a_blocking_column_is_read_again(watch, pg, sql):
    listening(watch)
    reads = watch.reader.reads
    pg[1].execute(sql)  # another worker, another connection
    eventually(lambda: watch.row("groq", "k1", direct) is not None and watch.reader.reads > reads)


def test_the_version_moves_with_each_change_heard_and_only_then(watch, pg):
    assert watch.version() is None  # not listening yet: nothing derived from it is kept
    listening(watch)
    heard = watch.version()
    assert heard is not None
    pg[1].execute("UPDATE llmfallback_providerhealth SET total_requests = total_requests + 1")
    time.sleep(0.3)
    assert watch.version() == heard  # counting columns: no news
    pg[1].execute("UPDATE llmfallback_providerhealth SET priority = 3 WHERE name = 'gemini'")
    eventually(lambda: watch.version() not in (None, heard))


@pytest.fixture
def agent_row(pg):
    """One agent key row, afresh."""
    conn = pg[1]
    conn.execute("DELETE FROM llmfallback_agentkey")
    conn.execute(
        "INSERT INTO llmfallback_agentkey (name, prefix, key_hash, is_operator, created_at,"
        " allowed_providers, minute_window, minute_requests, day_window, day_tokens,"
        " requests_total, tokens_total, default_route, allowed_routes)"
        " VALUES ('a', 'd8_x', 'h', false, now(), '', 0, 0, 0, 0, 0, 0, '', '')"
    )
    return conn


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE llmfallback_agentkey SET revoked_at = now()",
        "UPDATE llmfallback_agentkey SET rpm_limit = 10",
        "UPDATE llmfallback_agentkey SET tokens_per_day = 1000",
        "UPDATE llmfallback_agentkey SET allowed_providers = 'gemini'",
        "UPDATE llmfallback_agentkey SET is_operator = true",
        "UPDATE llmfallback_agentkey SET name = 'b'",
        "UPDATE llmfallback_agentkey SET key_hash = 'h2'",
        "DELETE FROM llmfallback_agentkey",
    ],
)
def test_a_change_to_what_an_agent_key_may_do_moves_the_version(watch, agent_row, sql):
    listening(watch)
    heard = watch.version()
    agent_row.execute(sql)  # an operator, in another process
    eventually(lambda: watch.version() not in (None, heard))


def test_an_agent_keys_usage_moves_nothing(watch, agent_row):
    listening(watch)
    heard = watch.version()
    agent_row.execute(
        "UPDATE llmfallback_agentkey SET minute_window = 7, minute_requests = minute_requests + 1,"
        " day_window = 3, day_tokens = day_tokens + 50, requests_total = requests_total + 1,"
        " tokens_total = tokens_total + 50, last_used_at = now()"
    )
    time.sleep(0.3)  # a notification would have arrived by now
    assert watch.version() == heard


def test_counting_columns_send_nothing(watch, pg):
    listening(watch)
    reads = watch.reader.reads
    pg[1].execute(
        "UPDATE llmfallback_providerhealth SET total_requests = total_requests + 1,"
        " consecutive_failures = 0, cooldown_episodes = 0, last_error_message = 'x'"
    )
    time.sleep(0.3)  # a notification would have arrived by now (it takes < 1 ms here)
    watch.row("groq", "k1", direct)
    assert watch.reader.reads == reads


def test_a_lost_listener_means_reading_per_attempt_until_it_is_back(watch, pg):
    listening(watch)
    pg[1].execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE query LIKE 'LISTEN%' OR query = 'SELECT 1'"
    )
    eventually(lambda: watch.row("groq", "k1", direct) is MISSING)  # no copy trusted
    listening(watch)  # reconnected on its own, and read afresh


def test_a_change_during_a_refresh_is_not_lost(pg):
    url, _ = pg
    reader, notify = Reader(url), threading.Event()
    watch = HealthWatch(
        lambda: _changing_while_read(reader, watch, notify),
        lambda: psycopg.connect(url, autocommit=True),
        ping_s=0.05,
    )
    try:
        listening(watch)
        notify.set()  # the next refresh sees a change land while it reads
        watch.changed()
        watch.row("groq", "k1", direct)
        reads = reader.reads
        watch.row("groq", "k1", direct)  # the copy read during the change was not kept
        assert reader.reads == reads + 1
    finally:
        watch.stop()
        reader.conn.close()


def _changing_while_read(reader, watch, notify) -> dict:
    rows = reader()
    if notify.is_set():
        notify.clear()
        watch.changed()
    return rows
