"""A caller may shorten its own deadline (a /v1 `timeout` field, the X-D8-Timeout header on both
APIs), never lengthen it; a bad value is a 400 that names it."""

import pytest

from llmfallback import services
from tests.v1.conftest import ask


def test_a_shorter_deadline_applies_and_a_longer_one_is_ignored(db, use_providers, settings):
    with services.deadline_shortened(2.5):
        assert services.engine_for_request().settings.deadline_s == 2.5
    with services.deadline_shortened(999):
        assert services.engine_for_request().settings.deadline_s == settings.LLM_DEADLINE_S
    assert services.engine_for_request().settings.deadline_s == settings.LLM_DEADLINE_S


def test_a_timeout_in_the_body_bounds_a_hanging_provider_and_leaves_time_to_fall_back(chat, sim):
    sim.script("groq", [{"behavior": "hang", "hang_s": 30}])
    r = chat(ask(timeout=5))
    assert r.status_code == 200 and r["x-d8-provider"] == "gemini"
    groq = r.json()["x_d8"]["attempts"][0]
    # Half of the 5 s the caller allowed (the fixture's own deadline is 10 s, its attempt 5 s).
    assert groq["error_type"] == "timeout" and groq["latency_ms"] < 3000


def test_the_header_shortens_a_stream_too(agent, use_providers, sim):
    sim.script("groq", [{"behavior": "hang", "hang_s": 30}])
    r = agent.post("/v1/chat/completions", ask(stream=True), format="json", HTTP_X_D8_TIMEOUT="5")
    assert r.status_code == 200 and r["x-d8-provider"] == "gemini"
    b"".join(r.streaming_content)


@pytest.mark.parametrize("value", [-1, 0, "soon", True, "1e999"])
def test_a_bad_timeout_in_a_v1_body_is_a_400_naming_it(chat, value):
    r = chat(ask(timeout=value))
    assert r.status_code == 400 and r.json()["error"]["param"] == "timeout"


def test_a_bad_header_is_a_400_on_both_apis(agent, use_providers):
    r = agent.post("/v1/chat/completions", ask(), format="json", HTTP_X_D8_TIMEOUT="soon")
    assert r.status_code == 400 and r.json()["error"]["param"] == "X-D8-Timeout"
    body = {"messages": [{"role": "user", "content": "Hi"}]}
    r = agent.post("/api/llm/chat", body, format="json", HTTP_X_D8_TIMEOUT="-3")
    assert r.status_code == 400 and "X-D8-Timeout" in r.json()["detail"]


def test_the_header_bounds_api_llm_chat(agent, use_providers, sim):
    sim.script("groq", [{"behavior": "hang", "hang_s": 30}])
    body = {"messages": [{"role": "user", "content": "Hi"}]}
    r = agent.post("/api/llm/chat", body, format="json", HTTP_X_D8_TIMEOUT="5")
    assert r.status_code == 200 and r.json()["provider"] == "gemini"
    assert r.json()["attempts"][0]["latency_ms"] < 3000
