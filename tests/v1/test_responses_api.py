"""POST /v1/responses over the simulator: the response object and its stream on the wire,
function calls and their outputs, text.format, statelessness and errors."""

import json

import pytest

from llmfallback.models import ErrorEvent
from tests.v1.test_anthropic_api import PINNED

pytestmark = pytest.mark.django_db

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather in a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}


def ask(input="Hi", model="auto", **fields) -> dict:
    return {"model": model, "input": input, **fields}


@pytest.fixture
def post(agent, use_providers, sim):
    def send(body):
        return agent.post("/v1/responses", body, format="json")

    return send


def sse_events(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode()
    out = []
    for block in body.strip().split("\n\n"):
        name, data = block.split("\n")
        payload = json.loads(data[6:])
        assert payload["type"] == name[7:]
        out.append(payload)
    assert [e["sequence_number"] for e in out] == list(range(len(out)))
    return out


def test_a_string_input_is_answered_with_a_completed_response(post):
    r = post(ask("Hello", instructions="Be terse.", max_output_tokens=100))
    assert r.status_code == 200, r.json()
    body = r.json()
    assert r["x-d8-provider"] == "groq"
    assert body["object"] == "response" and body["id"].startswith("resp_")
    assert body["status"] == "completed" and body["store"] is False
    assert body["model"] == "groq/llama-3.3-70b-versatile"
    (message,) = body["output"]
    assert message["type"] == "message" and message["role"] == "assistant"
    assert message["content"][0]["type"] == "output_text"
    assert message["content"][0]["text"] == "[groq] Hello"
    usage = body["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] > 0
    assert body["instructions"] == "Be terse." and body["max_output_tokens"] == 100


def test_it_falls_back_when_the_first_provider_fails(post, sim):
    sim.script("groq", [{"behavior": "rate_limit", "retry_after": 30}])
    r = post(ask())
    assert r["x-d8-provider"] == "gemini"
    assert [a["error_type"] for a in r.json()["x_d8"]["attempts"]] == ["rate_limit", None]


@pytest.mark.parametrize("provider", ["groq", "gemini", "deepseek"])
def test_a_function_call_round_trip_with_each_provider(post, sim, provider):
    sim.script(provider, [{"behavior": "tool_call", "arguments": {"city": "Paris"}}])
    first = post(ask("Weather in Paris?", model=provider, tools=[WEATHER])).json()
    (call,) = [i for i in first["output"] if i["type"] == "function_call"]
    assert call["name"] == "get_weather" and json.loads(call["arguments"]) == {"city": "Paris"}
    assert call["call_id"] and call["id"].startswith("fc_")
    items = [
        {"role": "user", "content": "Weather in Paris?"},
        *first["output"],
        {"type": "function_call_output", "call_id": call["call_id"], "output": '{"temp_c": 21}'},
    ]
    second = post(ask(items, model=provider, tools=[WEATHER]))
    assert second.status_code == 200, second.json()
    assert second.json()["output"][0]["content"][0]["text"]


def test_a_json_schema_text_format_is_answered_as_json(post):
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    fmt = {"format": {"type": "json_schema", "name": "status", "schema": schema, "strict": True}}
    body = post(ask(model="gemini", text=fmt)).json()
    assert json.loads(body["output"][0]["content"][0]["text"])["ok"] is True
    assert body["text"]["format"]["type"] == "json_schema"


def test_previous_response_id_is_refused_clearly(post, sim):
    r = post(ask(previous_response_id="resp_123"))
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "previous_response_id"
    assert "keeps no responses" in r.json()["error"]["message"]
    assert sum(sim.calls().values()) == 0


@pytest.mark.parametrize(
    "fields, param",
    [
        ({"input": []}, "input"),
        ({"tools": [{"type": "web_search"}]}, "tools[0]"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}]},
            "input[0].content[0]",
        ),
        ({"text": {"format": {"type": "xml"}}}, "text.format"),
        ({"temperature": 9}, "temperature"),
        ({"frobnicate": 1}, "frobnicate"),
    ],
)
def test_bad_input_is_a_400_naming_the_parameter(post, sim, fields, param):
    r = post(ask() | fields)
    assert r.status_code == 400 and r.json()["error"]["param"] == param
    assert sum(sim.calls().values()) == 0


def test_a_stream_is_the_named_events_in_order(post):
    r = post(ask("Hello", stream=True))
    assert r.status_code == 200 and r["x-d8-provider"] == "groq"
    events = sse_events(r)
    names = [e["type"] for e in events]
    assert names[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert names[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert text == "[groq] Hello"
    final = events[-1]["response"]
    assert final["id"] == events[0]["response"]["id"] and final["status"] == "completed"
    assert final["output"][0]["content"][0]["text"] == text and final["usage"]["output_tokens"] > 0


def test_a_streamed_function_call(post, sim):
    sim.script("gemini", [{"behavior": "tool_call", "arguments": {"city": "Paris"}}])
    events = sse_events(post(ask(model="gemini", tools=[WEATHER], stream=True)))
    done = [e for e in events if e["type"] == "response.function_call_arguments.done"]
    assert json.loads(done[0]["arguments"]) == {"city": "Paris"}
    (call,) = [i for i in events[-1]["response"]["output"] if i["type"] == "function_call"]
    assert call["name"] == "get_weather" and call["status"] == "completed"


def test_a_stream_falls_back_before_the_first_output_event(post, sim):
    sim.script("groq", [{"behavior": "error_in_stream", "times": 3}])
    r = post(ask(stream=True))
    assert r["x-d8-provider"] == "gemini" and sse_events(r)[-1]["type"] == "response.completed"


def test_a_failure_after_the_first_token_ends_with_an_error_event(post, sim):
    sim.script("groq", [{"behavior": "error_in_stream", "after_text": "The answer is"}])
    events = sse_events(post(ask(model=PINNED, stream=True)))
    assert [e["type"] for e in events[-2:]] == ["error", "response.failed"]
    assert events[-2]["code"] == "provider_unavailable" and "groq" in events[-2]["message"]
    assert events[-1]["response"]["status"] == "failed"
    deltas = [e["delta"] for e in events if e["type"] == "response.output_text.delta"]
    assert "".join(deltas) == "The answer is"  # what went out, never repeated
    assert ErrorEvent.objects.filter(provider="groq", error_type="unavailable").exists()


def test_a_stream_nobody_can_start_is_a_json_503(post, sim):
    for name in ("groq", "gemini", "deepseek"):
        sim.script(name, [{"behavior": "rate_limit", "retry_after": 30, "retry_delay": "30s"}])
    r = post(ask(stream=True))
    assert r.status_code == 503 and r.json()["error"]["type"] == "server_error"
