"""Half-open recovery across gunicorn workers: one request probes a provider whose cooldown ended."""

from __future__ import annotations

import sqlite3

import pytest

from .test_multiprocess import chat_burst

pytestmark = pytest.mark.multiprocess

BODY = {"messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture(autouse=True)
def one_call_per_request(monkeypatch):
    """No retries (set before the service starts): each request calls a provider at most once,
    so the simulator's count of calls is a count of requests that tried it."""
    monkeypatch.setenv("LLM_MAX_RETRIES_PER_PROVIDER", "0")


def end_cooldown(database_env: dict, provider: str) -> None:
    """Move the provider's running cooldown into the past, as if it had run out (and with it
    its probe slot, which never comes later than the cooldown's end)."""
    sql = (
        "UPDATE llmfallback_providerhealth SET cooldown_until = %s, probe_until = NULL"
        " WHERE name = %s"
    )
    past = "2000-01-01 00:00:00"
    if database_env.get("DATABASE_URL"):
        import psycopg

        with psycopg.connect(database_env["DATABASE_URL"], autocommit=True) as conn:
            assert conn.execute(sql, [past + "+00", provider]).rowcount == 1
        return
    with sqlite3.connect(database_env["SQLITE_PATH"]) as conn:
        assert conn.execute(sql.replace("%s", "?"), [past, provider]).rowcount == 1


def groq_health(service) -> dict:
    with service.client() as client:
        return client.get("/api/llm/health").json()["providers"]["groq"]


def test_after_a_cooldown_one_request_of_a_burst_probes_until_the_provider_answers(
    service, sim, database_env
):
    # groq fails twice (its first cooldown, then the first probe), then answers slowly, so the
    # second burst runs while the successful probe is still in flight.
    steps = [{"behavior": "unavailable", "times": 2}, {"behavior": "ok", "delay_s": 1, "times": 1}]
    sim.script("groq", steps)
    with service.client() as client:
        assert client.post("/api/llm/chat", json=BODY).status_code == 200  # gemini served it
    assert sim.calls()["groq"] == 1

    end_cooldown(database_env, "groq")
    assert chat_burst(service, 24) == [200] * 24  # from both workers at once
    assert sim.calls()["groq"] == 2, "more than one request probed groq after its cooldown"
    groq = groq_health(service)
    assert groq["cooldown_episodes"] == 2  # the failed probe renewed the cooldown with backoff
    assert 10 < groq["cooldown_remaining_s"] <= 22  # 20 s, not the base 10 s

    end_cooldown(database_env, "groq")
    # One request per client: the probe's client sends nothing after groq has recovered.
    assert chat_burst(service, 12) == [200] * 12
    assert sim.calls()["groq"] == 3, "more than one request probed groq after its cooldown"
    assert sim.calls()["gemini"] == 1 + 24 + 11

    # The probe succeeded: every worker calls groq again at once, without waiting for a flush.
    assert chat_burst(service, 12) == [200] * 12
    assert sim.calls()["groq"] == 3 + 12
    assert groq_health(service)["cooldown_episodes"] == 0
