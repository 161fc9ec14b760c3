"""The official openai SDK, sync and async, against a live gateway over the simulator.

Only base_url and api_key change; the SDK's own retries stay off (max_retries=0) so each
test sees exactly one HTTP answer.
"""

import asyncio
import json

import openai
import pytest

from tests.v1.conftest import WEATHER_TOOL, openai_client


@pytest.fixture
def client(gateway):
    with openai_client(gateway) as c:
        yield c


def hello(**kwargs):
    return {"model": "auto", "messages": [{"role": "user", "content": "Hello"}], **kwargs}


def test_a_plain_answer_says_who_served_it(client):
    raw = client.chat.completions.with_raw_response.create(**hello())
    completion = raw.parse()
    assert raw.headers["x-d8-provider"] == "groq"
    assert completion.model == "groq/llama-3.3-70b-versatile"
    assert completion.choices[0].message.content == "[groq] Hello"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.total_tokens > 0


def test_it_falls_back_when_the_first_provider_is_rate_limited(client, sim):
    sim.script("groq", [{"behavior": "rate_limit", "retry_after": 30}])
    completion = client.chat.completions.create(**hello())
    assert completion.model.startswith("gemini/")


def test_a_tool_call_round_trip(client, sim):
    sim.script("gemini", [{"behavior": "tool_call", "arguments": {"city": "Paris"}}])
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    first = client.chat.completions.create(model="gemini", messages=messages, tools=[WEATHER_TOOL])
    message = first.choices[0].message
    (call,) = message.tool_calls
    assert first.choices[0].finish_reason == "tool_calls"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    # The agent's usual loop: the SDK's own message object goes back with the tool's result.
    messages += [message, {"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 21}'}]
    second = client.chat.completions.create(model="gemini", messages=messages, tools=[WEATHER_TOOL])
    assert second.choices[0].message.content


def test_json_schema_is_answered_as_valid_json(client):
    schema = {
        "type": "object",
        "properties": {"ok": {"type": "boolean"}},
        "required": ["ok"],
        "additionalProperties": False,
    }
    fmt = {
        "type": "json_schema",
        "json_schema": {"name": "status", "schema": schema, "strict": True},
    }
    completion = client.chat.completions.create(**hello(model="gemini", response_format=fmt))
    assert json.loads(completion.choices[0].message.content)["ok"] is True


def test_every_provider_down_raises_503_with_retry_after(client, sim):
    for name in ("groq", "gemini", "deepseek"):
        sim.script(name, [{"behavior": "rate_limit", "retry_after": 30, "retry_delay": "30s"}])
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(**hello())
    assert info.value.status_code == 503
    # The earliest recovery: no sooner than the providers said (the cooldown may add a margin).
    assert 30 <= int(info.value.response.headers["retry-after"]) <= 60
    assert info.value.body["type"] == "server_error"


def test_an_unknown_model_raises_not_found(client):
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(**hello(model="gpt-4o"))
    assert info.value.code == "model_not_found"


def test_n_2_raises_bad_request(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(**hello(n=2))
    assert info.value.param == "n"


def test_a_bad_key_raises_authentication_error(gateway):
    base_url, _ = gateway
    with openai.OpenAI(base_url=base_url, api_key="d8_wrong", max_retries=0) as c:
        with pytest.raises(openai.AuthenticationError):
            c.models.list()


def test_models_are_listed_and_retrievable(client):
    ids = [m.id for m in client.models.list()]
    assert ids[0] == "auto" and "deepseek/deepseek-chat" in ids
    assert client.models.retrieve("groq").owned_by == "groq"


def test_the_async_client_works_the_same(gateway, sim):
    base_url, key = gateway
    sim.script("groq", [{"behavior": "unavailable", "times": -1}])

    async def run():
        async with openai.AsyncOpenAI(base_url=base_url, api_key=key, max_retries=0) as c:
            plain = await c.chat.completions.create(**hello())
            with pytest.raises(openai.NotFoundError):
                await c.chat.completions.create(**hello(model="nope"))
            return plain

    assert asyncio.run(run()).model.startswith("gemini/")


def test_the_sdks_structured_output_parse_works_through_gemini(client):
    """parse() sends a strict schema built from a pydantic model ($defs, additionalProperties)."""
    from pydantic import BaseModel

    class Echo(BaseModel):
        provider: str
        ok: bool

    completion = client.beta.chat.completions.parse(
        model="gemini", messages=[{"role": "user", "content": "Hi"}], response_format=Echo
    )
    assert completion.choices[0].message.parsed == Echo(provider="gemini", ok=True)
