"""The seed's BaseAgent.act() against the simulator, in-process and through a remote gateway."""

import pytest

from llmfallback import services
from llmfallback.access import agent_keys
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
    _, raw = agent_keys.agent_key_create(name="remote-agent")
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


def test_one_shared_manager_reports_each_threads_own_outcome(monkeypatch):
    """Agents on many threads share one manager; none ever sees another's escalation."""
    from concurrent.futures import ThreadPoolExecutor

    from llmfallback.core.errors import AllProvidersFailed
    from llmfallback.core.types import ChatResult, Usage
    from llmfallback.escalation.incidents import EscalationRef

    def llm_chat(*, request, config=None):
        if request.context.endswith("fail"):
            error = AllProvidersFailed((), retry_after=None)
            error.escalation = EscalationRef(7, 7, 1, "PROP-x")
            raise error
        return ChatResult("ok", "groq", "m", Usage(), "k1", ())

    monkeypatch.setattr(services, "llm_chat", llm_chat)
    manager = LLMFallbackManager()
    agents = [BaseAgent(genome=Genome(prompt="p"), llm_manager=manager) for _ in range(8)]

    def act(i):
        action = "fail" if i % 2 else "ok"
        return action, agents[i % 8].act(input_data={}, action_type=action)

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(act, range(400)))
    assert all(r["escalated_to_congress"] is (a == "fail") for a, r in outcomes)
    assert all(r["success"] is (a == "ok") for a, r in outcomes)
