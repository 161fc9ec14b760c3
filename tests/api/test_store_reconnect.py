"""The chat path's state read survives a database that dropped this worker's connection."""

import pytest
from django.db import OperationalError

from llmfallback.health import store

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_dropped_connection_is_reopened_once_and_the_read_succeeds(
    monkeypatch, use_providers, agent, sim
):
    real, calls = store._fetch_state, []

    def flaky(provider, key):
        calls.append(provider)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(provider, key)

    monkeypatch.setattr(store, "_fetch_state", flaky)
    r = agent.post(
        "/api/llm/chat", {"messages": [{"role": "user", "content": "hi"}]}, format="json"
    )
    assert r.status_code == 200
    assert calls == ["groq", "groq"]


def test_a_database_that_stays_down_is_not_retried_forever(monkeypatch):
    def down(provider, key):
        raise OperationalError("could not connect")

    monkeypatch.setattr(store, "_fetch_state", down)
    with pytest.raises(OperationalError):
        store.OrmHealthStore().state("groq", "k1", now=0)
