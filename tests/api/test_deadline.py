"""The whole-request deadline holds over real sockets, against a hang and against keep-alive lines.

These are the few tests that wait on a real clock: what they prove only exists on a socket.
"""

import time

import pytest

pytestmark = pytest.mark.django_db

CHAT = "/api/llm/chat"
MESSAGES = {"messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def tight_deadline(settings, use_providers):
    settings.LLM_DEADLINE_S = 1.5
    settings.LLM_ATTEMPT_TIMEOUT_S = 1.5
    settings.LLM_READ_TIMEOUT_S = 1.0
    use_providers(LLM_PROVIDER_PRIORITY="deepseek,groq")
    return settings


def timed_chat(agent):
    started = time.monotonic()
    r = agent.post(CHAT, MESSAGES, format="json")
    return r, time.monotonic() - started


@pytest.fixture
def attempt_budget(settings, use_providers):
    """A request deadline with room for three attempts of 0.8 s each."""
    settings.LLM_DEADLINE_S = 3.0
    settings.LLM_ATTEMPT_TIMEOUT_S = 0.8
    settings.LLM_READ_TIMEOUT_S = 0.8
    use_providers(LLM_PROVIDER_PRIORITY="deepseek,groq")
    return settings


@pytest.mark.parametrize(
    "step",
    [
        {"behavior": "hang", "hang_s": 30, "times": -1},
        {"behavior": "keepalive", "interval_s": 0.1, "then": "forever", "times": -1},
    ],
    ids=["hang", "keepalive-trickle"],
)
def test_a_stuck_provider_costs_one_attempt_budget_once_then_is_skipped(
    agent, attempt_budget, sim, step
):
    sim.script("deepseek", [step])
    r, took = timed_chat(agent)
    assert r.status_code == 200 and r.json()["provider"] == "groq"
    assert [a["error_type"] for a in r.json()["attempts"]] == ["timeout", None]
    assert 0.8 <= took < 1.6
    # The timeout cooled deepseek at once: the next requests skip it with no wait at all.
    for _ in range(3):
        r, took = timed_chat(agent)
        assert [a["provider"] for a in r.json()["attempts"]] == ["groq"]
        assert took < 0.5
    assert sim.calls()["deepseek"] == 1


def test_keepalive_lines_cannot_hold_a_request_past_its_deadline(agent, tight_deadline, sim):
    sim.script(
        "deepseek", [{"behavior": "keepalive", "interval_s": 0.1, "then": "forever", "times": -1}]
    )
    sim.script(
        "groq", [{"behavior": "keepalive", "interval_s": 0.1, "then": "forever", "times": -1}]
    )
    r, took = timed_chat(agent)
    assert r.status_code == 503
    assert r.json()["detail"] == "deadline exceeded"
    assert r.json()["attempts"][0]["error_type"] == "timeout"
    assert took < 2.5


def test_keepalive_lines_before_a_good_body_are_an_answer(agent, tight_deadline, sim):
    sim.script("deepseek", [{"behavior": "keepalive", "interval_s": 0.05, "duration_s": 0.3}])
    r, _ = timed_chat(agent)
    assert r.json()["provider"] == "deepseek"
