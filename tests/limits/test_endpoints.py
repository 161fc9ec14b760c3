"""Both chat endpoints under an agent's limits: 429 with Retry-After, 403 for other providers."""

import pytest
from rest_framework.test import APIClient

from llmfallback.access import agent_keys, limits
from tests.v1.conftest import ask

MESSAGES = {"messages": [{"role": "user", "content": "hi"}]}
NOW = [1_800_000_000.0 + 20]  # 20 s into a minute


@pytest.fixture
def limited(db, use_providers, sim, monkeypatch):
    """(client, set_limits) for an agent key; the limiter's clock is NOW."""
    from llmfallback.http import services, stream_services

    monkeypatch.setitem(services.agent_chat.__kwdefaults__, "clock", lambda: NOW[0])
    monkeypatch.setitem(stream_services.agent_chat_stream.__kwdefaults__, "clock", lambda: NOW[0])
    agent_keys.agent_cache_clear()
    _, raw = agent_keys.agent_key_create(name="limited")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    def set_limits(**changes):
        agent_keys.agent_key_limits_set(name="limited", **changes)

    return client, set_limits


def test_rest_chat_over_the_minute_is_429_with_retry_after(limited, sim):
    client, set_limits = limited
    set_limits(rpm_limit=1)
    assert client.post("/api/llm/chat", MESSAGES, format="json").status_code == 200
    r = client.post("/api/llm/chat", MESSAGES, format="json")
    assert r.status_code == 429
    assert r["Retry-After"] == "40"
    assert r.json()["retry_after_s"] == 40
    assert "1 requests per minute" in r.json()["detail"]
    assert sum(sim.calls().values()) == 1  # the refused call reached no provider


def test_v1_over_the_minute_is_openais_rate_limit_envelope(limited):
    client, set_limits = limited
    set_limits(rpm_limit=1)
    client.post("/v1/chat/completions", ask(), format="json")
    r = client.post("/v1/chat/completions", ask(), format="json")
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "rate_limit_exceeded"
    assert r.json()["error"]["type"] == "requests"
    assert (r["Retry-After"], r["retry-after-ms"]) == ("40", "40000")


def test_tokens_of_answers_count_toward_the_day(limited):
    client, set_limits = limited
    set_limits(tokens_per_day=1)
    first = client.post("/v1/chat/completions", ask(), format="json")
    assert first.status_code == 200 and first.json()["usage"]["total_tokens"] >= 1
    r = client.post("/v1/chat/completions", ask(), format="json")
    assert r.status_code == 429 and r.json()["error"]["type"] == "tokens"
    assert int(r["Retry-After"]) > 3600


def test_auto_skips_providers_the_key_may_not_use(limited, sim):
    client, set_limits = limited
    set_limits(allowed_providers="gemini")
    r = client.post("/v1/chat/completions", ask(), format="json")
    assert r.json()["model"].startswith("gemini/")
    assert [a["provider"] for a in r.json()["x_d8"]["attempts"]] == ["gemini"]
    assert sim.calls().get("groq", 0) == 0
    rest = client.post("/api/llm/chat", MESSAGES, format="json")
    assert rest.json()["provider"] == "gemini"


def test_naming_a_disallowed_provider_is_403_and_calls_nobody(limited, sim):
    client, set_limits = limited
    set_limits(allowed_providers="gemini")
    r = client.post("/v1/chat/completions", ask(model="groq"), format="json")
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "provider_not_allowed"
    assert sum(sim.calls().values()) == 0


def test_a_disallowed_provider_that_fails_is_never_cooled(limited, sim):
    client, set_limits = limited
    set_limits(allowed_providers="gemini")
    sim.script("groq", [{"behavior": "auth"}] * 5)
    client.post("/api/llm/chat", MESSAGES, format="json")
    from llmfallback.models import ProviderHealth

    groq = ProviderHealth.objects.get(name="groq")
    assert sim.calls().get("groq", 0) == 0
    assert groq.cooldown_until is None and not groq.is_unavailable


def test_health_shows_an_agent_its_own_usage_and_an_operator_everyones(limited, operator):
    client, set_limits = limited
    set_limits(rpm_limit=5)
    client.post("/api/llm/chat", MESSAGES, format="json")
    own = client.get("/api/llm/health").json()["agents"]
    assert [a["name"] for a in own] == ["limited"]
    assert own[0]["limits"]["requests_per_minute"] == 5
    assert own[0]["usage"]["requests_total"] == 1
    names = {a["name"] for a in operator.get("/api/llm/health").json()["agents"]}
    assert names == {"limited", "test-operator"}


def test_health_never_shows_a_key_or_its_hash(limited):
    client, _ = limited
    body = client.get("/api/llm/health").content.decode()
    from llmfallback.models import AgentKey

    key = AgentKey.objects.get(name="limited")
    assert key.key_hash not in body and key.key_hash[:16] not in body


def test_limits_reach_this_worker_at_once(limited):
    client, set_limits = limited
    assert client.post("/api/llm/chat", MESSAGES, format="json").status_code == 200
    set_limits(rpm_limit=0)
    assert client.post("/api/llm/chat", MESSAGES, format="json").status_code == 429
    assert limits.allowed_providers(object()) is None


def test_a_stream_is_admitted_within_the_limits_and_its_tokens_count(limited, sim):
    client, set_limits = limited
    set_limits(rpm_limit=5, tokens_per_day=1)
    first = client.post("/v1/chat/completions", ask(stream=True), format="json")
    assert first.status_code == 200
    assert b"[DONE]" in b"".join(first.streaming_content)
    r = client.post("/v1/chat/completions", ask(stream=True), format="json")
    assert r.status_code == 429 and r.json()["error"]["type"] == "tokens"


def test_a_stream_over_the_minute_is_429_before_any_provider_call(limited, sim):
    client, set_limits = limited
    set_limits(rpm_limit=1)
    client.post("/v1/chat/completions", ask(), format="json")
    r = client.post("/v1/chat/completions", ask(stream=True), format="json")
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limit_exceeded"
    assert sum(sim.calls().values()) == 1
