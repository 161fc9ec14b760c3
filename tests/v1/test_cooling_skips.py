"""x_d8.attempts names the providers passed by for a cooldown, as docs/api.md says: never
called, listed before the one that served, with why."""

import pytest

pytestmark = pytest.mark.django_db

BODY = {"messages": [{"role": "user", "content": "hi"}]}


def ask(agent, model="auto"):
    r = agent.post("/v1/chat/completions", BODY | {"model": model}, format="json")
    assert r.status_code == 200, r.content
    return r.json()["x_d8"]["attempts"]


def test_a_provider_cooling_down_is_listed_as_skipped_not_called(agent, use_providers, sim):
    sim.script("groq", [{"behavior": "rate_limit", "retry_after": 60}])
    ask(agent)  # groq's 429 cools it
    calls = sim.calls().get("groq", 0)
    attempts = ask(agent)
    assert sim.calls().get("groq", 0) == calls  # not called
    assert [(a["provider"], a["error_type"]) for a in attempts] == [
        ("groq", "cooldown"),
        ("gemini", None),
    ]
    assert attempts[0]["reason"].startswith("cooling down for ")
    assert attempts[0]["status"] is None and attempts[0]["latency_ms"] == 0


def test_providers_after_the_one_that_served_or_off_the_route_are_not_listed(
    agent, use_providers, sim
):
    sim.script("groq", [{"behavior": "rate_limit", "retry_after": 60}])
    ask(agent)
    assert [a["provider"] for a in ask(agent, "gemini")] == ["gemini"]  # gemini first: served
    pinned = ask(agent, "deepseek/deepseek-chat")
    assert [a["provider"] for a in pinned] == ["deepseek"]


def test_a_healthy_chain_lists_only_the_call(agent, use_providers, sim):
    assert [(a["provider"], a["error_type"]) for a in ask(agent)] == [("groq", None)]


def test_a_stream_names_the_providers_it_passed_by_too(agent, use_providers, sim):
    import json

    sim.script("groq", [{"behavior": "rate_limit", "retry_after": 60}])
    ask(agent)  # groq's 429 cools it
    r = agent.post("/v1/chat/completions", BODY | {"model": "auto", "stream": True}, format="json")
    body = b"".join(r.streaming_content).decode()
    finish = next(
        json.loads(block[6:])
        for block in body.split("\n\n")
        if block.startswith("data: {") and '"x_d8"' in block
    )
    attempts = finish["x_d8"]["attempts"]
    assert [(a["provider"], a["error_type"]) for a in attempts] == [
        ("groq", "cooldown"),
        ("gemini", None),
    ]
    assert attempts[0]["reason"].startswith("cooling down for ")
