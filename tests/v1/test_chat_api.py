"""/v1/chat/completions over the simulator: OpenAI's answer, tools, JSON schema, input errors."""

import json

import pytest

from tests.v1.conftest import WEATHER_TOOL, ask

pytestmark = pytest.mark.django_db


def test_it_answers_a_chat_completion_and_names_the_provider(chat):
    r = chat(ask("Hello there"))
    assert r.status_code == 200
    body = r.json()
    assert r["x-d8-provider"] == "groq"
    assert body["object"] == "chat.completion"
    assert body["model"] == "groq/llama-3.3-70b-versatile"
    assert body["id"].startswith("chatcmpl-") and isinstance(body["created"], int)
    (choice,) = body["choices"]
    assert choice["message"] == {
        "role": "assistant",
        "content": "[groq] Hello there",
        "refusal": None,
    }
    assert choice["finish_reason"] == "stop"
    assert (
        body["usage"]["total_tokens"]
        == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
    )


def test_it_falls_back_when_the_first_provider_is_rate_limited(chat, sim):
    sim.script("groq", [{"behavior": "rate_limit", "retry_after": 30}])
    r = chat(ask())
    assert r.status_code == 200 and r["x-d8-provider"] == "gemini"
    assert r.json()["model"] == "gemini/gemini-2.5-flash"
    attempts = r.json()["x_d8"]["attempts"]
    assert [(a["provider"], a["error_type"]) for a in attempts] == [
        ("groq", "rate_limit"),
        ("gemini", None),
    ]


@pytest.mark.parametrize("provider", ["groq", "gemini", "deepseek"])
def test_a_tool_call_comes_back_in_openai_shape_from_each_provider(chat, sim, provider):
    sim.script(provider, [{"behavior": "tool_call", "arguments": {"city": "Paris"}}])
    r = chat(ask("Weather in Paris?", model=provider, tools=[WEATHER_TOOL], tool_choice="auto"))
    assert r.status_code == 200 and r["x-d8-provider"] == provider
    (choice,) = r.json()["choices"]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    (call,) = choice["message"]["tool_calls"]
    assert call["type"] == "function" and call["id"]
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}


def test_a_tool_result_turn_is_accepted_and_answered(chat):
    messages = [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": None,
            "refusal": None,  # echoed back from the SDK's own message object
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "user", "content": [{"type": "text", "text": "So?"}]},
    ]
    for model in ("groq", "gemini", "deepseek"):
        r = chat({"model": model, "messages": messages, "tools": [WEATHER_TOOL]})
        assert r.status_code == 200, r.json()
        assert r.json()["choices"][0]["message"]["content"] == f"[{model}] So?"


def test_json_schema_is_answered_as_json(chat):
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    fmt = {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": schema, "strict": True},
    }
    for model in ("groq", "gemini"):
        r = chat(ask("Are you ok?", model=model, response_format=fmt))
        assert r.status_code == 200
        assert json.loads(r.json()["choices"][0]["message"]["content"])["ok"] is True


def test_a_provider_without_json_schema_is_skipped_uncooled_and_the_attempts_say_why(chat, sim):
    fmt = {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}}
    r = chat(ask(model="deepseek", response_format=fmt))
    assert r.status_code == 200 and r["x-d8-provider"] == "groq"
    skipped = r.json()["x_d8"]["attempts"][0]
    assert skipped["provider"] == "deepseek" and skipped["error_type"] == "unsupported"
    assert "json_schema" in skipped["reason"]
    assert sim.calls()["deepseek"] == 0
    # Not cooled: the next plain request preferring deepseek goes straight to it.
    assert chat(ask(model="deepseek"))["x-d8-provider"] == "deepseek"


def test_a_provider_flagged_without_tools_is_skipped(chat, use_providers, sim):
    use_providers(GROQ_CAPABILITIES="json_object")
    sim.script("gemini", [{"behavior": "tool_call"}])
    r = chat(ask(tools=[WEATHER_TOOL]))
    assert r["x-d8-provider"] == "gemini"
    assert r.json()["x_d8"]["attempts"][0]["error_type"] == "unsupported"
    assert sim.calls()["groq"] == 0


def test_a_pinned_provider_that_cannot_serve_the_request_is_a_400(chat, sim):
    fmt = {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}}
    r = chat(ask(model="deepseek/deepseek-chat", response_format=fmt))
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "invalid_request_error"
    assert "json_schema" in r.json()["error"]["message"]
    assert sum(sim.calls().values()) == 0


@pytest.mark.parametrize(
    "fields, param",
    [
        ({"n": 2}, "n"),
        ({"stream": "yes"}, "stream"),
        ({"stream_options": {"include_usage": True}}, "stream_options"),
        ({"logprobs": True}, "logprobs"),
        ({"functions": [{"name": "f"}]}, "functions"),
        ({"max_token": 5}, "max_token"),
        ({"temperature": 3}, "temperature"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"tool_choice": "sometimes"}, "tool_choice"),
        ({"response_format": {"type": "xml"}}, "response_format"),
        ({"tools": [{"type": "code_interpreter"}]}, "tools[0]"),
    ],
)
def test_what_we_cannot_honour_is_a_400_naming_the_param(chat, sim, fields, param):
    r = chat(ask(**fields))
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param
    assert sum(sim.calls().values()) == 0


def test_image_parts_and_unknown_roles_are_400s(chat):
    image = [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]
    assert (
        chat({"model": "auto", "messages": [{"role": "user", "content": image}]}).json()["error"][
            "param"
        ]
        == "messages[0].content[0]"
    )
    r = chat({"model": "auto", "messages": [{"role": "human", "content": "hi"}]})
    assert r.status_code == 400 and r.json()["error"]["param"] == "messages[0].role"


def test_what_the_sdk_may_send_harmlessly_is_accepted(chat):
    extras = {"n": 1, "logprobs": False, "stream": False, "metadata": {"a": "b"}, "user": "u1"}
    extras |= {"stream_options": None, "max_tokens": 50, "max_completion_tokens": 60, "seed": 1}
    assert chat(ask(**extras)).status_code == 200


def test_a_body_that_is_not_an_object_is_a_400_in_openai_shape(agent, use_providers):
    r = agent.post("/v1/chat/completions", [1, 2], format="json")
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    r = agent.post("/v1/chat/completions", "{nope", content_type="application/json")
    assert r.status_code == 400 and "error" in r.json()


def test_every_provider_refusing_the_size_is_a_413(chat, sim):
    sim.script("groq", [{"behavior": "quota", "variant": "413"}])
    sim.script("gemini", [{"behavior": "context_length"}])
    sim.script("deepseek", [{"behavior": "context_length"}])
    r = chat(ask())
    assert r.status_code == 413
    assert r.json()["error"]["type"] == "invalid_request_error"
    assert "Every provider refused" in r.json()["error"]["message"]


def test_a_malformed_request_a_provider_rejects_is_a_400(chat, sim):
    sim.script("groq", [{"behavior": "bad_request"}])
    r = chat(ask())
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request"


def test_a_penalty_gemini_would_refuse_skips_it_and_a_zero_one_does_not(chat, sim):
    r = chat(ask(model="gemini", frequency_penalty=0.5))
    assert r["x-d8-provider"] == "groq" and sim.calls()["gemini"] == 0
    assert r.json()["x_d8"]["attempts"][0]["reason"] == "gemini does not support penalties"
    assert chat(ask(model="gemini", frequency_penalty=0))["x-d8-provider"] == "gemini"
