"""The official openai SDK streaming from a live gateway over the simulator: sync and async,
usage, tools, the SDK's stream helper, fallback before the first token, APIError after it, and
a 503 with Retry-After when no provider can start. Only base_url and api_key change."""

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
    return {"model": "auto", "messages": [{"role": "user", "content": "Hello there"}], **kwargs}


def text(chunks) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_a_sync_stream_arrives_in_pieces_and_says_who_served_it(client):
    raw = client.chat.completions.with_raw_response.create(**hello(stream=True))
    assert raw.headers["x-d8-provider"] == "groq"
    assert raw.headers["content-type"].startswith("text/event-stream")
    chunks = list(raw.parse())
    assert text(chunks) == "[groq] Hello there"
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) == 3
    assert {c.model for c in chunks} == {"groq/llama-3.3-70b-versatile"}
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_include_usage_gives_the_usage_on_the_last_chunk(client):
    chunks = list(
        client.chat.completions.create(**hello(stream=True, stream_options={"include_usage": True}))
    )
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])


def test_a_tool_call_streams_and_the_sdks_stream_helper_assembles_it(client, sim):
    sim.script("gemini", [{"behavior": "tool_call", "arguments": {"city": "Paris"}}])
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    with client.chat.completions.stream(
        model="gemini", messages=messages, tools=[WEATHER_TOOL]
    ) as stream:
        final = stream.get_final_completion()
    (call,) = final.choices[0].message.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert final.choices[0].finish_reason == "tool_calls"


def test_openai_style_tool_call_fragments_accumulate_by_index(client, sim):
    sim.script("groq", [{"behavior": "tool_call", "arguments": {"city": "Lima", "days": 3}}])
    chunks = list(client.chat.completions.create(**hello(stream=True, tools=[WEATHER_TOOL])))
    pieces = [tc for c in chunks for tc in (c.choices[0].delta.tool_calls or [])]
    assert pieces[0].id and pieces[0].function.name == "get_weather"
    assert len(pieces) > 1  # id and name first, then the arguments in fragments
    arguments = "".join(p.function.arguments or "" for p in pieces)
    assert json.loads(arguments) == {"city": "Lima", "days": 3}


def test_a_provider_failing_before_its_first_token_falls_back_unseen(client, sim):
    sim.script("groq", [{"behavior": "error_in_stream", "times": 3}])
    raw = client.chat.completions.with_raw_response.create(**hello(stream=True))
    assert raw.headers["x-d8-provider"] == "gemini"
    assert text(list(raw.parse())) == "[gemini] Hello there"


def test_a_failure_after_the_first_token_raises_api_error_in_the_sdk(client, sim):
    sim.script("groq", [{"behavior": "error_in_stream", "after_text": "Half an"}])
    for name in ("gemini", "deepseek"):  # no provider can continue it
        sim.script(name, [{"behavior": "unavailable", "times": 3}])
    received = []
    with pytest.raises(openai.APIError) as info:
        for chunk in client.chat.completions.create(**hello(stream=True)):
            received.append(chunk)
    assert text(received) == "Half an"  # what came before, then the error: never a quiet end
    assert "groq" in info.value.message
    assert info.value.body["code"] == "provider_unavailable"


def test_every_provider_down_before_a_token_raises_503_with_retry_after(client, sim):
    for name in ("groq", "gemini", "deepseek"):
        sim.script(name, [{"behavior": "rate_limit", "retry_after": 30, "retry_delay": "30s"}])
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(**hello(stream=True))
    assert info.value.status_code == 503
    assert 30 <= int(info.value.response.headers["retry-after"]) <= 60


def test_the_async_client_streams_falls_back_and_raises_the_same(gateway, sim):
    base_url, key = gateway
    sim.script("groq", [{"behavior": "unavailable", "times": 3}])

    async def run():
        async with openai.AsyncOpenAI(base_url=base_url, api_key=key, max_retries=0) as c:
            stream = await c.chat.completions.create(
                **hello(stream=True, stream_options={"include_usage": True})
            )
            chunks = [chunk async for chunk in stream]
            sim.script("groq", [{"behavior": "error_in_stream", "after_text": "Cut"}])
            sim.script("gemini", [{"behavior": "error_in_stream", "after_text": "Cut"}])
            sim.script("deepseek", [{"behavior": "unavailable", "times": 3}])
            broken = await c.chat.completions.create(**hello(stream=True))
            with pytest.raises(openai.APIError):
                async for _ in broken:
                    pass
            return chunks

    chunks = asyncio.run(run())
    assert chunks[0].model.startswith("gemini/")
    assert text(chunks) == "[gemini] Hello there" and chunks[-1].usage.total_tokens > 0
