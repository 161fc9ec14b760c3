"""Each worker remembers valid agent keys instead of querying every call: until it hears of a
change while PostgreSQL's notifications are heard, else for at most AGENT_CACHE_S."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from llmfallback.access import agent_keys
from llmfallback.models import AgentKey
from tests.scaleout.heard_watch import HeardWatch


@pytest.fixture
def client(db):
    agent_keys.agent_cache_clear()
    agent_keys.agent_key_create(name="cached")
    _, raw = agent_keys.agent_key_create(name="caller")
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return c


def test_a_known_key_is_not_looked_up_again(client):
    # /v1/models, not health: health reads the caller's usage from its key row on purpose.
    client.get("/v1/models")
    with CaptureQueriesContext(connection) as queries:
        client.get("/v1/models")
    assert not any("llmfallback_agentkey" in q["sql"] for q in queries.captured_queries)


def test_revoking_in_this_process_takes_effect_at_once(client):
    assert client.get("/api/llm/health").status_code == 200
    agent_keys.agent_key_revoke(name="caller")
    assert client.get("/api/llm/health").status_code == 401


def test_a_key_revoked_elsewhere_stops_working_once_the_cache_expires(client, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(agent_keys.time, "monotonic", lambda: now[0])
    assert client.get("/api/llm/health").status_code == 200
    AgentKey.objects.filter(name="caller").update(revoked_at=timezone.now())  # another worker

    assert client.get("/api/llm/health").status_code == 200
    now[0] += agent_keys.AGENT_CACHE_S + 0.1
    assert client.get("/api/llm/health").status_code == 401


def key_reads(client, watch, monkeypatch) -> int:
    """How many queries for a key one authenticated call made, with `watch` as the health watch."""
    monkeypatch.setattr(agent_keys, "health_watch", lambda: watch)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/v1/models").status_code == 200
    return sum("llmfallback_agentkey" in q["sql"] for q in queries.captured_queries)


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(agent_keys.time, "monotonic", lambda: now[0])
    return now


def test_while_notifications_are_heard_a_key_is_read_again_only_after_a_change(
    client, clock, monkeypatch
):
    watch = HeardWatch(7)
    assert key_reads(client, watch, monkeypatch) == 1  # remembered at this version
    clock[0] += 3600  # far past AGENT_CACHE_S
    assert key_reads(client, watch, monkeypatch) == 0
    AgentKey.objects.filter(name="caller").update(revoked_at=timezone.now())  # another worker
    watch.at = 8  # ... and the change is heard here
    monkeypatch.setattr(agent_keys, "health_watch", lambda: watch)
    assert client.get("/v1/models").status_code == 401  # at once, not after AGENT_CACHE_S


def test_a_limit_set_elsewhere_applies_here_as_soon_as_it_is_heard(client, clock, monkeypatch):
    watch = HeardWatch(7)
    monkeypatch.setattr(agent_keys, "health_watch", lambda: watch)
    raw = client._credentials["HTTP_AUTHORIZATION"].split()[1]
    assert agent_keys.agent_for_key(raw).rpm_limit is None
    AgentKey.objects.filter(name="caller").update(rpm_limit=5)
    assert agent_keys.agent_for_key(raw).rpm_limit is None  # nothing heard yet
    watch.at = 8
    assert agent_keys.agent_for_key(raw).rpm_limit == 5


def test_when_notifications_are_not_heard_a_key_expires_on_its_own(client, clock, monkeypatch):
    watch = HeardWatch(7)
    assert key_reads(client, watch, monkeypatch) == 1
    watch.at = None  # the listener dropped: nothing it said can be trusted
    assert key_reads(client, watch, monkeypatch) == 0  # still within AGENT_CACHE_S
    clock[0] += agent_keys.AGENT_CACHE_S + 0.1
    assert key_reads(client, watch, monkeypatch) == 1
    watch.at = 9  # heard again, at a version this key was not read at
    assert key_reads(client, watch, monkeypatch) == 1
    assert key_reads(client, watch, monkeypatch) == 0


def test_every_column_a_request_decides_by_is_announced():
    """A field added to AgentKey must join the watched columns (migrations 0014, 0015) or be named here
    as one nothing is decided by; else a remembered key would answer for it unannounced."""
    from importlib import import_module

    watched = set(import_module("llmfallback.migrations.0015_agent_routes").WATCHED)
    decides_nothing = {
        "id",
        "prefix",  # shown to recognise a key; never changes
        "created_at",
        "last_used_at",
        "minute_window",  # the usage counters: counters.py reads them from the row or Redis
        "minute_requests",
        "day_window",
        "day_tokens",
        "requests_total",
        "tokens_total",
    }
    columns = {f.name for f in AgentKey._meta.concrete_fields}
    assert columns == watched | decides_nothing
    assert not watched & decides_nothing
