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
    settings.LLM_READ_TIMEOUT_S = 1.0
    use_providers(LLM_PROVIDER_PRIORITY="deepseek,groq")
    return settings


def timed_chat(agent):
    started = time.monotonic()
    r = agent.post(CHAT, MESSAGES, format="json")
    return r, time.monotonic() - started


def test_a_hanging_provider_times_out_and_the_next_answers(agent, tight_deadline, sim):
    tight_deadline.LLM_DEADLINE_S = 5.0
    sim.script("deepseek", [{"behavior": "hang", "hang_s": 30, "times": -1}])
    r, took = timed_chat(agent)
    assert r.json()["provider"] == "groq"
    assert [a["error_type"] for a in r.json()["attempts"][:-1]] == ["timeout"] * 3
    assert took < 4.5


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
