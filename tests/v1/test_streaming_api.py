"""/v1 streaming over the loopback simulator: the chunks on the wire, fallback before the first
token, an explicit error event after it, and health recorded either way."""

import json

import pytest

from llmfallback.models import ErrorEvent
from tests.v1.conftest import WEATHER_TOOL, ask


def events_of(response) -> list:
    """The `data:` payloads of an SSE response, JSON decoded ([DONE] kept as the string)."""
    body = b"".join(response.streaming_content).decode()
    assert not body.strip() or body.endswith("\n\n")  # every event ends whole
    out = []
    for block in body.split("\n\n"):
        if block.startswith("data: "):
            data = block[6:]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def text_of(events) -> str:
    return "".join(
        e["choices"][0]["delta"].get("content") or ""
        for e in events
        if isinstance(e, dict) and e.get("choices")
    )


@pytest.fixture
def stream(chat):
    def post(body=None, **fields):
        return chat(body or ask(stream=True, **fields))

    return post


def test_a_stream_is_openai_chunks_ending_in_done_with_the_provider_named(stream):
    r = stream()
    assert r.status_code == 200 and r["Content-Type"] == "text/event-stream"
    assert r["Cache-Control"] == "no-cache" and r["X-Accel-Buffering"] == "no"
    assert r["x-d8-provider"] == "groq"
    events = events_of(r)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1
    assert {c["model"] for c in chunks} == {"groq/llama-3.3-70b-versatile"}
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert text_of(events) == "[groq] Hi"
    assert len(chunks) >= 4  # role, the words one by one, the finish
    assert chunks[-1]["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "stop",
    }
    assert "usage" not in chunks[-1]


def test_include_usage_adds_the_usage_chunk_before_done(stream):
    events = events_of(stream(stream_options={"include_usage": True}))
    usage_chunk = events[-2]
    assert usage_chunk["choices"] == [] and usage_chunk["usage"]["total_tokens"] > 0
    assert all(e["usage"] is None for e in events[:-2])


@pytest.mark.parametrize("provider", ["gemini", "deepseek"])
def test_each_providers_own_stream_format_comes_out_the_same(stream, provider):
    r = stream(model=provider, stream_options={"include_usage": True})
    events = events_of(r)
    assert r["x-d8-provider"] == provider
    assert text_of(events) == f"[{provider}] Hi" and events[-1] == "[DONE]"
    assert events[-2]["usage"]["completion_tokens"] > 0


@pytest.mark.parametrize("provider", ["groq", "gemini", "deepseek"])
def test_tool_calls_stream_as_openai_deltas(stream, sim, provider):
    sim.script(provider, [{"behavior": "tool_call", "arguments": {"city": "Paris"}}])
    events = events_of(stream(model=provider, tools=[WEATHER_TOOL]))
    pieces = [tc for e in events[:-1] for tc in e["choices"][0]["delta"].get("tool_calls", [])]
    assert pieces[0]["id"] and pieces[0]["function"]["name"] == "get_weather"
    assert pieces[0]["type"] == "function" and pieces[0]["index"] == 0
    arguments = "".join(p["function"]["arguments"] for p in pieces)
    assert json.loads(arguments) == {"city": "Paris"}
    assert events[-2]["choices"][0]["finish_reason"] == "tool_calls"


def test_an_error_inside_the_first_providers_stream_falls_back_before_any_token(stream, sim):
    sim.script("groq", [{"behavior": "error_in_stream", "times": 3}])
    r = stream()
    assert r["x-d8-provider"] == "gemini"
    events = events_of(r)
    assert text_of(events) == "[gemini] Hi" and events[-1] == "[DONE]"
    assert ErrorEvent.objects.filter(provider="groq", error_type="unavailable").exists()


@pytest.mark.parametrize("failure", ["rate_limit", "unavailable", "auth", "empty"])
def test_any_failure_before_the_first_token_falls_back(stream, sim, failure):
    sim.script("groq", [{"behavior": failure, "times": 3}])
    r = stream()
    assert r["x-d8-provider"] == "gemini" and events_of(r)[-1] == "[DONE]"


def test_a_break_no_provider_can_continue_ends_with_an_error_event_and_no_done(
    stream, sim, use_providers
):
    # gemini takes no prefill and its restarted answer ("[gemini] Hi") does not begin with the
    # text already sent: nothing of it may be relayed (tests/v1/test_stream_rescue_api.py has
    # the rescues that work).
    use_providers(LLM_PROVIDER_PRIORITY="groq,gemini")
    sim.script("groq", [{"behavior": "error_in_stream", "after_text": "The answer is"}])
    r = stream()
    assert r.status_code == 200 and r["x-d8-provider"] == "groq"
    events = events_of(r)
    assert "[DONE]" not in events
    assert text_of(events) == "The answer is"
    error = events[-1]["error"]
    assert error["type"] == "server_error" and error["code"] == "provider_unavailable"
    assert "groq" in error["message"]
    assert not any(e["choices"][0]["finish_reason"] for e in events[:-1] if e.get("choices"))
    assert sim.calls()["gemini"] == 1  # asked to continue; its different answer never sent
    assert ErrorEvent.objects.filter(provider="groq", error_type="unavailable").exists()


def test_a_stall_no_provider_can_continue_ends_with_a_timeout_error_event(
    stream, sim, settings, use_providers
):
    use_providers(LLM_PROVIDER_PRIORITY="groq,gemini")  # gemini's answer differs: no splice
    settings.LLM_STREAM_STALL_S = 0.3
    sim.script("groq", [{"behavior": "stream_stall", "interval_s": 0.05, "duration_s": 2}])
    events = events_of(stream())
    assert "[DONE]" not in events and events[-1]["error"]["code"] == "provider_timeout"
    assert text_of(events)  # the first token went out before the stall
    assert ErrorEvent.objects.filter(provider="groq", error_type="timeout").exists()


def test_deepseeks_queue_keep_alives_count_toward_the_first_token_timeout(stream, sim, settings):
    settings.LLM_FIRST_TOKEN_TIMEOUT_S = 0.4
    sim.script("groq", [{"behavior": "keepalive", "interval_s": 0.05, "duration_s": 3}])
    r = stream()
    assert r["x-d8-provider"] == "gemini"
    assert ErrorEvent.objects.filter(provider="groq", error_type="timeout").exists()


def test_keep_alives_shorter_than_the_limits_are_waited_out(stream, sim):
    sim.script("deepseek", [{"behavior": "keepalive", "interval_s": 0.05, "duration_s": 0.2}])
    r = stream(model="deepseek")
    assert r["x-d8-provider"] == "deepseek" and text_of(events_of(r)) == "[deepseek] Hi"


def test_every_provider_down_before_a_token_is_a_503_json_with_retry_after(stream, sim):
    for name in ("groq", "gemini", "deepseek"):
        sim.script(name, [{"behavior": "rate_limit", "retry_after": 30, "retry_delay": "30s"}])
    r = stream()
    assert r.status_code == 503 and r["Content-Type"] == "application/json"
    assert 30 <= int(r["Retry-After"]) <= 60
    assert r.json()["error"]["code"] == "providers_unavailable"


def test_bad_stream_requests_are_400s_before_any_call(chat, sim):
    r = chat(ask(stream=True, stream_options={"include_usage": "yes"}))
    assert r.status_code == 400 and r.json()["error"]["param"] == "stream_options.include_usage"
    r = chat(ask(stream_options={"include_usage": True}))
    assert r.status_code == 400 and r.json()["error"]["param"] == "stream_options"
    assert sum(sim.calls().values()) == 0


def test_a_pinned_model_streams_from_that_provider_alone(stream, sim):
    sim.script("gemini", [{"behavior": "unavailable", "times": -1}])
    r = stream(model="gemini/gemini-2.5-flash")
    assert r.status_code == 503 and sim.calls()["groq"] == 0
