"""Several gunicorn worker processes share one health state: no lost counts, cooldowns hold."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = pytest.mark.multiprocess

REQUESTS = 60
CLIENTS = 12
BODY = {"messages": [{"role": "user", "content": "hello"}]}


def chat_burst(service, n: int) -> list[int]:
    """Send n chat requests from CLIENTS threads (one connection each); return the statuses."""

    def one_client(count: int) -> list[int]:
        with service.client() as client:
            return [client.post("/api/llm/chat", json=BODY).status_code for _ in range(count)]

    shares = [n // CLIENTS + (i < n % CLIENTS) for i in range(CLIENTS)]
    with ThreadPoolExecutor(CLIENTS) as pool:
        return [status for statuses in pool.map(one_client, shares) for status in statuses]


def settled_health(service, total: int, timeout: float = 30.0) -> dict:
    """Health once the workers' buffered success counts (LLM_SUCCESS_FLUSH_S) are written.

    They settle within ~0.3 s here; the generous timeout absorbs a loaded CI machine, and a
    count that is really lost still fails.
    """
    deadline = time.monotonic() + timeout
    with service.client() as client:
        while True:
            health = client.get("/api/llm/health").json()
            if health["total_requests"] >= total or time.monotonic() > deadline:
                return health
            time.sleep(0.1)


def test_workers_lose_no_count_and_respect_a_cooldown_any_worker_recorded(service, sim):
    sim.script("groq", [{"behavior": "rate_limit", "retry_after": 30, "times": -1}])
    assert len(service.worker_pids()) >= 2

    with service.client() as client:
        first = client.post("/api/llm/chat", json=BODY)  # records groq's 429 in whichever worker
    statuses = [first.status_code] + chat_burst(service, REQUESTS - 1)

    assert statuses == [200] * REQUESTS
    assert sim.calls().get("groq", 0) == 1, "a worker called groq during its cooldown"
    assert sim.calls().get("gemini", 0) == REQUESTS
    health = settled_health(service, REQUESTS)
    providers = health["providers"]
    assert health["total_requests"] == REQUESTS
    assert providers["groq"]["total_requests"] == 1
    assert providers["groq"]["total_failures"] == 1
    assert providers["groq"]["in_cooldown"] is True
    assert providers["gemini"]["total_requests"] == REQUESTS
    assert providers["gemini"]["total_failures"] == 0
    attempts = sum(p["total_requests"] for p in providers.values())
    assert attempts == REQUESTS + 1  # every attempt counted once: N successes + one 429


def test_concurrent_successes_are_all_counted(service, sim):
    statuses = chat_burst(service, REQUESTS)

    assert statuses == [200] * REQUESTS
    health = settled_health(service, REQUESTS)
    assert health["total_requests"] == REQUESTS
    assert health["providers"]["groq"]["total_requests"] == REQUESTS
    assert sim.calls().get("groq", 0) == REQUESTS


def test_a_burst_of_concurrent_failures_is_one_cooldown_episode_of_the_base_time(service, sim):
    # Every in-flight request fails on groq at about the same moment, in both workers.
    sim.script("groq", [{"behavior": "unavailable", "times": -1}])
    statuses = chat_burst(service, 24)

    assert statuses == [200] * 24
    with service.client() as client:
        groq = client.get("/api/llm/health").json()["providers"]["groq"]
    assert groq["cooldown_episodes"] == 1
    assert 0 < groq["cooldown_remaining_s"] <= 11  # the 10 s base (+10 % jitter), not 40 s or more
