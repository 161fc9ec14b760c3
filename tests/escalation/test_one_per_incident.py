"""One escalation per real incident: settling before recovery, counting since the last one."""

import pytest
import time_machine

from llmfallback import services
from llmfallback.models import Escalation
from llmfallback.runtime import runtime

pytestmark = pytest.mark.django_db

CHAT = "/api/llm/chat"
HELLO = {"messages": [{"role": "user", "content": "hello"}]}
ALL = ("groq", "gemini", "deepseek")


def fail_all(sim):
    for name in ALL:
        sim.script(name, [{"behavior": "unavailable", "times": -1}])


def heal_all(sim):
    sim.reset()
    for name in ALL:
        services.provider_cooldown_reset(name=name, by="test")


def chat(agent):
    return agent.post(CHAT, HELLO, format="json")


@pytest.fixture
def settle_60s(settings):
    settings.LLM_INCIDENT_SETTLE_S = 60


def test_a_provider_flapping_within_seconds_keeps_one_incident_open(
    agent, sim, use_providers, settle_60s
):
    with time_machine.travel("2026-03-01 10:00:00", tick=False) as clock:
        for _ in range(5):  # fail, answer, fail, answer... two seconds apart
            fail_all(sim)
            assert chat(agent).status_code == 503
            clock.shift(1)
            heal_all(sim)
            assert chat(agent).status_code == 200
            clock.shift(1)
        assert list(Escalation.objects.values_list("status", flat=True)) == ["open"]
        assert Escalation.objects.get().failed_requests == 5


def test_an_incident_closes_once_providers_stayed_healthy_for_the_settling_time(
    agent, sim, use_providers, settle_60s
):
    with time_machine.travel("2026-03-01 10:00:00", tick=False) as clock:
        fail_all(sim)
        chat(agent)
        heal_all(sim)
        chat(agent)  # healthy since now
        clock.shift(59)
        chat(agent)
        assert Escalation.objects.get().status == "open"
        clock.shift(2)
        chat(agent)
        assert Escalation.objects.get().status == "recovered"


def test_a_failure_during_the_settling_time_starts_it_again(agent, sim, use_providers, settle_60s):
    with time_machine.travel("2026-03-01 10:00:00", tick=False) as clock:
        fail_all(sim)
        chat(agent)
        heal_all(sim)
        chat(agent)
        clock.shift(50)
        fail_all(sim)
        chat(agent)
        heal_all(sim)
        clock.shift(1)
        chat(agent)  # healthy again from here
        clock.shift(30)
        chat(agent)
        assert Escalation.objects.get().status == "open"
        clock.shift(31)
        chat(agent)
        assert Escalation.objects.get().status == "recovered"


def test_after_a_recovery_one_handled_failure_never_reopens_an_incident(
    agent, sim, use_providers, settings
):
    settings.LLM_CONGRESS_THRESHOLD_REPEATED_ERROR = 3
    settings.LLM_CONGRESS_THRESHOLD_FAILURES = 5
    with time_machine.travel("2026-03-01 10:00:00", tick=False) as clock:
        fail_all(sim)  # 9 failed attempts: far over both thresholds
        chat(agent)
        heal_all(sim)
        chat(agent)
        assert Escalation.objects.get().status == "recovered"
        clock.shift(5)
        sim.script("groq", [{"behavior": "unavailable"}])  # one failure the fallback absorbs
        r = chat(agent)
        assert r.status_code == 200 and r.json()["escalated_to_congress"] is False
        assert Escalation.objects.count() == 1


def test_an_answered_request_escalates_only_when_failures_since_the_last_incident_meet_a_threshold(
    agent, sim, use_providers, settings
):
    settings.LLM_CONGRESS_THRESHOLD_REPEATED_ERROR = 3
    with time_machine.travel("2026-03-01 10:00:00", tick=False) as clock:
        for _ in range(2):
            sim.script("groq", [{"behavior": "unavailable", "times": 3}])
            chat(agent)  # groq's 3 failures are absorbed; gemini answers
            services.provider_cooldown_reset(name="groq", by="test")
            clock.shift(1)
        escalation = Escalation.objects.get()
        assert escalation.trigger == "repeated_error"
        assert escalation.providers == ["groq"]


def test_refused_requests_never_escalate(agent, sim, use_providers, settings):
    settings.LLM_CONGRESS_THRESHOLD_REPEATED_ERROR = 1
    settings.LLM_CONGRESS_THRESHOLD_FAILURES = 1
    for name in ALL:
        sim.script(name, [{"behavior": "context_length", "times": -1}])
    for _ in range(3):
        assert chat(agent).status_code == 413
    assert not Escalation.objects.exists()


def test_when_operators_disable_every_provider_the_503_says_so_without_a_made_up_wait(
    agent, sim, use_providers
):
    runtime()  # the provider rows exist from the first use on
    for name in ALL:
        services.provider_disable(name=name, by="test")
    runtime().order = None  # each worker reads the order again within a second
    r = chat(agent)
    assert r.status_code == 503
    assert r.json()["detail"] == "every provider is disabled by operators"
    assert r.json()["retry_after_s"] is None
    assert "Retry-After" not in r.headers
    assert sim.calls() == {} or not any(sim.calls().values())
    assert not Escalation.objects.exists()


def test_an_escalation_is_filed_even_when_its_first_remedy_would_be_refused(
    agent, sim, use_providers
):
    use_providers(LLM_PROVIDER_PRIORITY="groq")  # disabling groq would leave no provider at all
    sim.script("groq", [{"behavior": "auth", "times": -1}])
    r = chat(agent)
    assert r.status_code == 503 and r.json()["escalated_to_congress"] is True
    proposal = Escalation.objects.get().proposal
    assert proposal.remedy and proposal.remedy != "provider_disable"
