"""POST /v1/messages and /v1/messages/count_tokens over the simulator: Anthropic's shapes on the
wire, translated to every provider, fallback, streaming and errors."""

import json

import pytest
from rest_framework.test import APIClient

from llmfallback.access import agent_keys
from llmfallback.models import ErrorEvent

pytestmark = pytest.mark.django_db

WEATHER = {
    "name": "get_weather",
    "description": "Current weather in a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
PINNED = "groq/llama-3.3-70b-versatile"  # one provider, no fallback


def ask(content="Hi", model="auto", **fields) -> dict:
    return {
        "model": model,
        "max_tokens": 256,
        "messages": [{"role": "user", "content": content}],
        **fields,
    }


@pytest.fixture
def key(db, use_providers, sim):
    return agent_keys.agent_key_create(name="claude-agent")[1]


@pytest.fixture
def post(key):
    """POST a Messages body with the key in x-api-key, as the Anthropic SDKs send it."""
    client = APIClient()

    def send(body, path="/v1/messages", **headers):
        headers = {"HTTP_X_API_KEY": key, "HTTP_ANTHROPIC_VERSION": "2023-06-01"} | headers
        return client.post(path, body, format="json", **headers)

    return send


def sse_events(response) -> list[tuple[str, dict]]:
    body = b"".join(response.streaming_content).decode()
    out = []
    for block in body.strip().split("\n\n"):
        name, data = block.split("\n")
        assert name.startswith("event: ") and data.startswith("data: ")
        payload = json.loads(data[6:])
        assert payload["type"] == name[7:]
        out.append((name[7:], payload))
    return out


def test_it_answers_a_message_with_stop_reason_and_usage(post):
    r = post(ask("Hello there", system="You are terse."))
    assert r.status_code == 200, r.json()
    body = r.json()
    assert r["x-d8-provider"] == "groq"
    assert body["type"] == "message" and body["role"] == "assistant"
    assert body["id"].startswith("msg_") and body["model"] == "groq/llama-3.3-70b-versatile"
    assert body["content"] == [{"type": "text", "text": "[groq] Hello there"}]
    assert body["stop_reason"] == "end_turn" and body["stop_sequence"] is None
    assert body["usage"]["input_tokens"] > 0 and body["usage"]["output_tokens"] > 0


def test_a_bearer_token_is_accepted_too(post, key):
    r = post(ask(), HTTP_X_API_KEY="", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert r.status_code == 200


def test_it_falls_back_when_the_first_provider_fails(post, sim):
    sim.script("groq", [{"behavior": "rate_limit", "retry_after": 30}])
    r = post(ask())
    assert r.status_code == 200 and r["x-d8-provider"] == "gemini"
    assert [a["error_type"] for a in r.json()["x_d8"]["attempts"]] == ["rate_limit", None]


@pytest.mark.parametrize("provider", ["groq", "gemini", "deepseek"])
def test_a_tool_call_round_trip_with_each_provider(post, sim, provider):
    sim.script(provider, [{"behavior": "tool_call", "arguments": {"city": "Paris"}}])
    first = post(ask("Weather in Paris?", model=provider, tools=[WEATHER])).json()
    assert first["stop_reason"] == "tool_use"
    (use,) = [b for b in first["content"] if b["type"] == "tool_use"]
    assert use["name"] == "get_weather" and use["input"] == {"city": "Paris"} and use["id"]
    turns = [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": first["content"]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": use["id"], "content": '{"temp_c": 21}'},
                {"type": "text", "text": "And so?"},
            ],
        },
    ]
    second = post({**ask(model=provider, tools=[WEATHER]), "messages": turns})
    assert second.status_code == 200, second.json()
    assert second.json()["content"][0]["text"]


def test_a_json_schema_output_comes_back_as_json(post):
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    r = post(
        ask(model="gemini", output_config={"format": {"type": "json_schema", "schema": schema}})
    )
    assert json.loads(r.json()["content"][0]["text"])["ok"] is True


@pytest.mark.parametrize(
    "fields, says",
    [
        ({"max_tokens": None}, "max_tokens"),
        ({"messages": []}, "messages"),
        ({"temperature": 3}, "temperature"),
        ({"stop_sequences": ["a", "b", "c", "d", "e"]}, "stop_sequences"),
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "server tool"),
        ({"tool_choice": {"type": "sometimes"}}, "tool_choice"),
        ({"top_k": 5}, "top_k"),
    ],
)
def test_bad_input_is_a_400_in_anthropics_envelope_before_any_call(post, sim, fields, says):
    r = post(ask() | fields)
    assert r.status_code == 400
    assert r.json()["type"] == "error"
    assert r.json()["error"]["type"] == "invalid_request_error"
    assert says in r.json()["error"]["message"]
    assert sum(sim.calls().values()) == 0


def test_images_are_refused_clearly(post, sim):
    image = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "AA=="},
    }
    r = post(ask([{"type": "text", "text": "What is this?"}, image]))
    assert r.status_code == 400
    assert "images are not supported" in r.json()["error"]["message"]


def test_claude_codes_hints_for_anthropics_servers_are_accepted(post):
    hints = {
        "metadata": {"user_id": "session-1"},
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "context_management": {"edits": [{"type": "clear_tool_uses_20250919"}]},
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
    }
    assert post(ask() | hints).status_code == 200


def test_thinking_blocks_echoed_back_are_left_out(post):
    turns = [
        {"role": "user", "content": "Hi"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "x"},
                {"type": "text", "text": "Hello!"},
            ],
        },
        {"role": "user", "content": "Bye"},
    ]
    assert post(ask() | {"messages": turns}).status_code == 200


def test_errors_use_anthropics_statuses_and_types(post, sim, key):
    assert post(ask(), HTTP_X_API_KEY="nope").json()["error"]["type"] == "authentication_error"
    r = post(ask(model="gpt-4o"))
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error"
    for name in ("groq", "gemini", "deepseek"):
        sim.script(name, [{"behavior": "rate_limit", "retry_after": 30, "retry_delay": "30s"}])
    r = post(ask())
    assert r.status_code == 503 and r.json()["error"]["type"] == "overloaded_error"
    assert 30 <= int(r["Retry-After"]) <= 60


def test_count_tokens_estimates_locally_and_never_calls_a_provider(post, sim):
    sim.script("groq", [{"behavior": "unavailable", "times": -1}])
    r = post(ask("x" * 400, system="be brief", tools=[WEATHER]), "/v1/messages/count_tokens")
    assert r.status_code == 200 and r["x-d8-token-count"] == "estimate"
    assert r.json()["input_tokens"] > 100 and r.json()["x_d8"]["estimated"] is True
    assert sum(sim.calls().values()) == 0
    assert not ErrorEvent.objects.exists()


def test_a_stream_is_anthropics_named_events_in_order(post):
    r = post(ask("Hello", stream=True))
    assert r.status_code == 200 and r["Content-Type"] == "text/event-stream"
    events = sse_events(r)
    names = [n for n, _ in events]
    assert names[:2] == ["message_start", "content_block_start"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    text = "".join(e["delta"]["text"] for n, e in events if n == "content_block_delta")
    assert text == "[groq] Hello"
    assert events[0][1]["message"]["model"] == "groq/llama-3.3-70b-versatile"
    ending = events[-2][1]
    assert ending["delta"]["stop_reason"] == "end_turn" and ending["usage"]["output_tokens"] > 0


def test_a_streamed_tool_call_is_a_tool_use_block_with_json_deltas(post, sim):
    sim.script("gemini", [{"behavior": "tool_call", "arguments": {"city": "Paris"}}])
    events = sse_events(post(ask(model="gemini", tools=[WEATHER], stream=True)))
    (start,) = [
        e
        for n, e in events
        if n == "content_block_start" and e["content_block"]["type"] == "tool_use"
    ]
    assert start["content_block"]["name"] == "get_weather"
    arguments = "".join(
        e["delta"]["partial_json"]
        for n, e in events
        if n == "content_block_delta" and e["index"] == start["index"]
    )
    assert json.loads(arguments) == {"city": "Paris"}
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_a_stream_falls_back_before_its_first_token(post, sim):
    sim.script("groq", [{"behavior": "error_in_stream", "times": 3}])
    r = post(ask(stream=True))
    assert r["x-d8-provider"] == "gemini" and sse_events(r)[-1][0] == "message_stop"


def test_a_failure_after_the_first_token_ends_with_an_error_event(post, sim):
    sim.script("groq", [{"behavior": "error_in_stream", "after_text": "The answer is"}])
    events = sse_events(post(ask(model=PINNED, stream=True)))
    assert events[-1][0] == "error" and "message_stop" not in [n for n, _ in events]
    assert events[-1][1]["error"]["type"] == "api_error"
    assert "groq" in events[-1][1]["error"]["message"]


def test_a_stream_nobody_can_start_is_a_json_error(post, sim):
    for name in ("groq", "gemini", "deepseek"):
        sim.script(name, [{"behavior": "rate_limit", "retry_after": 30, "retry_delay": "30s"}])
    r = post(ask(stream=True))
    assert r.status_code == 503 and r["Content-Type"] == "application/json"
