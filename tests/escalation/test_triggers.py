"""Each trigger, against the simulator, through /api/llm/chat."""

import json

import pytest

from llmfallback.models import Counter, Escalation

pytestmark = pytest.mark.django_db

CHAT = "/api/llm/chat"
HELLO = {
    "messages": [{"role": "user", "content": "hello"}],
    "context": "Agent abc123 - Action: analyze",
}
ALL = ("groq", "gemini", "deepseek")


def fail_all(sim, behavior="unavailable"):
    for name in ALL:
        sim.script(name, [{"behavior": behavior, "times": -1}])


def test_it_escalates_when_every_provider_fails(agent, sim, use_providers, settings):
    fail_all(sim)
    r = agent.post(CHAT, HELLO, format="json")
    assert r.status_code == 503
    body = r.json()
    escalation = Escalation.objects.get()
    assert body["escalated_to_congress"] is True
    assert body["escalation_id"] == escalation.pk
    assert body["proposal_code"] == escalation.proposal.code
    assert escalation.trigger == "all_failed"
    assert escalation.context == HELLO["context"]
    assert Counter.objects.get(name="escalations").value == 1
    assert agent.get("/api/llm/health").json()["congress_escalations"] == 1


def test_it_does_not_escalate_when_disabled(agent, sim, use_providers, settings):
    settings.LLM_ENABLE_CONGRESS_ESCALATION = False
    fail_all(sim)
    body = agent.post(CHAT, HELLO, format="json").json()
    assert body["escalated_to_congress"] is False
    assert not Escalation.objects.exists()


def test_it_escalates_when_the_same_error_repeats(agent, sim, use_providers, settings):
    settings.LLM_CONGRESS_THRESHOLD_REPEATED_ERROR = 3
    # groq keeps answering 401 on one key: marked unavailable, so the same error needs new keys; use
    # rate limits instead, which cool the key down: reset the cooldown between requests.
    sim.script("groq", [{"behavior": "unavailable", "times": -1}])
    from llmfallback import services

    for _ in range(3):
        r = agent.post(CHAT, HELLO, format="json")
        assert r.status_code == 200  # gemini answered
        services.provider_cooldown_reset(name="groq", by="test")
    escalation = Escalation.objects.get()
    assert escalation.trigger == "repeated_error"
    assert escalation.providers == ["groq"]
    assert "groq failed with unavailable" in escalation.reason


def test_it_escalates_on_many_failures_in_the_window(agent, sim, use_providers, settings):
    settings.LLM_CONGRESS_THRESHOLD_REPEATED_ERROR = 100
    settings.LLM_CONGRESS_THRESHOLD_FAILURES = 4
    sim.script("groq", [{"behavior": "unavailable", "times": -1}])
    from llmfallback import services

    for _ in range(2):
        agent.post(CHAT, HELLO, format="json")
        services.provider_cooldown_reset(name="groq", by="test")
    escalation = Escalation.objects.get()
    assert escalation.trigger == "failure_rate"


def test_a_clean_success_touches_no_escalation(
    agent, sim, use_providers, django_assert_max_num_queries
):
    r = agent.post(CHAT, HELLO, format="json")
    assert r.status_code == 200
    assert not Escalation.objects.exists()


def test_the_escalation_file_has_the_seed_fields_and_no_secret(
    agent, sim, use_providers, llm_data_dir
):
    fail_all(sim)
    secret_message = {
        "messages": [
            {
                "role": "user",
                "content": "key gsk_sim_0000000000000000000000000000000000000000000000000 x",
            }
        ]
    }
    agent.post(CHAT, secret_message, format="json")
    (path,) = llm_data_dir.glob("congress_escalation_*.json")
    text = path.read_text()
    doc = json.loads(text)
    assert {
        "timestamp",
        "escalation_number",
        "context",
        "messages",
        "provider_status",
        "error_history",
        "proposal_description",
    } <= doc.keys()
    assert doc["provider_status"]["groq"]["error_type"] == "unavailable"
    assert "## 🚨 ESCALACIÓN AUTOMÁTICA #1" in doc["proposal_description"]
    for secret in use_providers_secrets():
        assert secret not in text


def use_providers_secrets():
    from llmfallback.selectors import provider_secrets

    secrets = provider_secrets()
    assert secrets
    return secrets
