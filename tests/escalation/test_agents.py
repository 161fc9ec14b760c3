"""The seed's BaseAgent.act() against the simulator, in-process and through a remote gateway."""

import pytest

from llmfallback import services
from llmfallback.agents import BaseAgent, Genome
from llmfallback.manager import LLMFallbackManager

ALL = ("groq", "gemini", "deepseek")


def fail_all(sim):
    for name in ALL:
        sim.script(name, [{"behavior": "unavailable", "times": -1}])


def agent_() -> BaseAgent:
    return BaseAgent(
        genome=Genome(prompt="You are an AI agent.", generation=1), llm_manager=LLMFallbackManager()
    )


@pytest.mark.django_db
def test_act_in_process_reports_the_provider(sim, use_providers):
    result = agent_().act(input_data={"task": "Analyze market trends"}, action_type="analyze")
    assert result["success"] is True and result["llm_provider"] == "groq"
    assert result["escalated_to_congress"] is False and result["result"]


@pytest.mark.django_db
def test_act_in_process_reports_the_escalation(sim, use_providers):
    fail_all(sim)
    result = agent_().act(input_data={"task": "x"})
    assert result["success"] is False and result["escalated_to_congress"] is True
    assert result["proposal_code"].startswith("PROP-") and result["escalation_id"]


def test_groq_api_key_is_accepted_with_a_deprecation_warning():
    with pytest.deprecated_call():
        BaseAgent(genome=Genome(prompt="p"), groq_api_key="gsk_old")


@pytest.fixture
def remote(live_server, settings, use_providers):
    _, raw = services.agent_key_create(name="remote-agent")
    settings.D8_GATEWAY_URL = live_server.url
    settings.D8_AGENT_KEY = raw


@pytest.mark.django_db(transaction=True)
def test_act_remote_is_served_by_the_gateway(remote, sim):
    result = BaseAgent(genome=Genome(prompt="p")).act(input_data={"task": "x"})
    assert result["success"] is True and result["llm_provider"] == "groq"
    assert sim.calls().get("groq") == 1


@pytest.mark.django_db(transaction=True)
def test_act_remote_reports_the_escalation(remote, sim):
    fail_all(sim)
    result = BaseAgent(genome=Genome(prompt="p")).act(input_data={"task": "x"})
    assert result["success"] is False and result["escalated_to_congress"] is True
    assert result["proposal_code"].startswith("PROP-")
