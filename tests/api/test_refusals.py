"""A request refused for its own sake never cools a provider for others and never looks like an outage."""

import pytest

from llmfallback.models import ErrorEvent, ProviderHealth

pytestmark = pytest.mark.django_db

CHAT = "/api/llm/chat"
HELLO = {"messages": [{"role": "user", "content": "hello"}]}
ALL = ("groq", "gemini", "deepseek")


def test_a_request_too_long_for_every_provider_is_one_413_naming_each_reason(
    agent, sim, use_providers
):
    for name in ALL:
        sim.script(name, [{"behavior": "context_length", "times": -1}])
    r = agent.post(CHAT, HELLO, format="json")
    assert r.status_code == 413
    body = r.json()
    assert [x["provider"] for x in body["refusals"]] == list(ALL)
    assert all(x["reason"] for x in body["refusals"])
    assert all(name in body["detail"] for name in ALL)
    assert not ProviderHealth.objects.filter(cooldown_until__isnull=False).exists()


def test_a_refusal_is_visible_in_health_and_history_but_cools_nothing(agent, sim, use_providers):
    sim.script("groq", [{"behavior": "context_length"}])
    r = agent.post(CHAT, HELLO, format="json")
    assert r.json()["provider"] == "gemini"
    groq = agent.get("/api/llm/health").json()["providers"]["groq"]
    assert groq["last_error_type"] == "bad_request"
    assert groq["in_cooldown"] is False and groq["consecutive_failures"] == 0
    assert ErrorEvent.objects.get(provider="groq").refused is True
    # Another caller's ordinary request still goes to groq first.
    assert agent.post(CHAT, HELLO, format="json").json()["provider"] == "groq"


def test_a_json_mode_answer_that_is_not_json_falls_back_without_cooling(agent, sim, use_providers):
    sim.script("deepseek", [{"behavior": "json_invalid"}])
    use_providers(LLM_PROVIDER_PRIORITY="deepseek,groq")
    r = agent.post(CHAT, HELLO | {"json_mode": True}, format="json")
    assert r.json()["provider"] == "groq"
    assert ProviderHealth.objects.get(name="deepseek").cooldown_until is None


def test_a_malformed_request_is_one_400_without_fallback(agent, sim, use_providers):
    sim.script("groq", [{"behavior": "bad_request"}])
    r = agent.post(CHAT, HELLO, format="json")
    assert r.status_code == 400
    assert [a["provider"] for a in r.json()["attempts"]] == ["groq"]
