"""The p50/p95 that health, llm_health and the dashboard show are within 10 % of the latencies
the gateway measured, for a simulated provider answering at fixed delays from 1 ms to 2 s.

(10 s is covered without waiting by the histogram unit tests in tests/dashboard/test_percentiles.py.)
"""

from io import StringIO

import pytest
from django.core.management import call_command

from llmfallback.health.store import OrmHealthStore

CHAT = "/api/llm/chat"


def nearest_rank(values: list[float], q: int) -> float:
    ordered = sorted(values)
    return ordered[max(0, -(-len(ordered) * q // 100) - 1)]


@pytest.fixture
def measured(monkeypatch):
    """Every latency the engine hands the store for a success, per provider: the truth."""
    seen: dict[str, list[float]] = {}
    original = OrmHealthStore.record_success

    def spy(self, provider, key, *, latency_ms, now):
        seen.setdefault(provider, []).append(latency_ms)
        return original(self, provider, key, latency_ms=latency_ms, now=now)

    monkeypatch.setattr(OrmHealthStore, "record_success", spy)
    return seen


@pytest.mark.parametrize(
    ("delay_s", "n"), [(0.001, 40), (0.005, 40), (0.05, 20), (0.5, 4), (2.0, 2)]
)
def test_reported_percentiles_are_within_10_percent_of_the_measured_latency(
    agent, use_providers, sim, measured, delay_s, n
):
    sim.script("groq", [{"behavior": "ok", "delay_s": delay_s, "times": n}])
    for _ in range(n):
        r = agent.post(CHAT, {"messages": [{"role": "user", "content": "hi"}]}, format="json")
        assert r.json()["provider"] == "groq"
    truth = measured["groq"]
    assert len(truth) == n and min(truth) >= delay_s * 1000

    groq = agent.get("/api/llm/health").json()["providers"]["groq"]
    assert groq["p50_latency_ms"] == pytest.approx(nearest_rank(truth, 50), rel=0.10)
    assert groq["p95_latency_ms"] == pytest.approx(nearest_rank(truth, 95), rel=0.10)
    # The terminal shows the same figures as the API.
    out = StringIO()
    call_command("llm_health", stdout=out)
    row = next(line for line in out.getvalue().splitlines() if " groq" in line)
    assert f"{groq['p50_latency_ms']} ms" in row and f"{groq['p95_latency_ms']} ms" in row


def test_the_dashboard_card_shows_the_health_figures(
    agent, staff_client, use_providers, sim, measured
):
    sim.script("gemini", [{"behavior": "ok", "delay_s": 0.003, "times": 10}])
    use_providers(LLM_PROVIDER_PRIORITY="gemini,groq")
    for _ in range(10):
        agent.post(CHAT, {"messages": [{"role": "user", "content": "hi"}]}, format="json")
    p50 = agent.get("/api/llm/health").json()["providers"]["gemini"]["p50_latency_ms"]
    assert p50 == pytest.approx(nearest_rank(measured["gemini"], 50), rel=0.10)
    html = staff_client.get("/dashboard/llm").content.decode()
    card = html[
        html.index('id="card-gemini"') : html.index("</article>", html.index('id="card-gemini"'))
    ]
    assert f"{p50:.1f} ms" in card


def test_a_provider_with_no_requests_has_no_success_rate(agent, staff_client, use_providers):
    health = agent.get("/api/llm/health").json()["providers"]["deepseek"]
    assert (health["total_requests"], health["success_rate"]) == (0, None)
    assert (health["p50_latency_ms"], health["p95_latency_ms"]) == (None, None)
    out = StringIO()
    call_command("llm_health", stdout=out)
    row = next(line for line in out.getvalue().splitlines() if " deepseek" in line)
    assert "%" not in row
    html = staff_client.get("/dashboard/llm").content.decode()
    card = html[html.index('id="card-deepseek"') :]
    assert "0%" not in card[: card.index("</article>")]
