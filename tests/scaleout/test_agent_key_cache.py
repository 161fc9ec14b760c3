"""Each worker remembers valid agent keys for AGENT_CACHE_S instead of querying every call."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from llmfallback import agent_keys
from llmfallback.models import AgentKey


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
