"""The official openai SDK's Responses client (sync, async, streaming) against a live gateway over
the simulator, tools included, each against a provider that fails first.

Only base_url and api_key change; the SDK's own retries stay off so each test sees exactly one
HTTP answer.
"""

import asyncio
import json

import openai
import pytest

from tests.v1.conftest import openai_client
from tests.v1.test_anthropic_api import PINNED
from tests.v1.test_responses_api import WEATHER

FAIL_FIRST = {"behavior": "unavailable", "times": 3}  # groq fails, retries included


@pytest.fixture
def client(gateway):
    with openai_client(gateway) as c:
        yield c


def test_create_falls_back_and_answers(client, sim):
    sim.script("groq", [FAIL_FIRST])
    raw = client.responses.with_raw_response.create(
        model="auto", input="Hello", instructions="Be brief."
    )
    response = raw.parse()
    assert raw.headers["x-d8-provider"] == "gemini"
    assert response.output_text == "[gemini] Hello" and response.status == "completed"
    assert response.model == "gemini/gemini-2.5-flash" and response.usage.total_tokens > 0


def test_create_with_tools_round_trips_after_a_fallback(client, sim):
    sim.script("groq", [FAIL_FIRST])
    sim.script("gemini", [{"behavior": "tool_call", "arguments": {"city": "Paris"}}])
    items = [{"role": "user", "content": "Weather in Paris?"}]
    first = client.responses.create(model="auto", input=items, tools=[WEATHER])
    (call,) = [i for i in first.output if i.type == "function_call"]
    assert json.loads(call.arguments) == {"city": "Paris"}
    # The agent's usual loop: the SDK's own output items go back with the function's output.
    items += [
        *first.output,
        {"type": "function_call_output", "call_id": call.call_id, "output": "21 C"},
    ]
    second = client.responses.create(model="auto", input=items, tools=[WEATHER])
    assert second.output_text


def test_async_create_falls_back(gateway, sim):
    sim.script("groq", [FAIL_FIRST])
    base_url, key = gateway

    async def ask():
        async with openai.AsyncOpenAI(base_url=base_url, api_key=key, max_retries=0) as client:
            return await client.responses.create(model="auto", input="Hello")

    assert asyncio.run(ask()).output_text == "[gemini] Hello"


def test_create_stream_falls_back_before_the_first_output_event(client, sim):
    sim.script("groq", [{"behavior": "error_in_stream", "times": 3}])
    events = list(client.responses.create(model="auto", input="Hello", stream=True))
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "[gemini] Hello" and events[-1].response.output_text == text


def test_stream_helper_with_tools_after_a_fallback(client, sim):
    sim.script("groq", [FAIL_FIRST])
    sim.script("gemini", [{"behavior": "tool_call", "arguments": {"city": "Paris"}}])
    with client.responses.stream(
        model="auto", input="Weather in Paris?", tools=[WEATHER]
    ) as stream:
        final = stream.get_final_response()
    (call,) = [i for i in final.output if i.type == "function_call"]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}


def test_async_stream_helper(gateway, sim):
    sim.script("groq", [{"behavior": "error_in_stream", "times": 3}])
    base_url, key = gateway

    async def ask():
        async with openai.AsyncOpenAI(base_url=base_url, api_key=key, max_retries=0) as client:
            async with client.responses.stream(model="auto", input="Hello") as stream:
                return await stream.get_final_response()

    assert asyncio.run(ask()).output_text == "[gemini] Hello"


def test_a_stream_broken_after_its_first_token_ends_in_error_and_failure(client, sim):
    sim.script("groq", [{"behavior": "error_in_stream", "after_text": "The answer is"}])
    events = list(client.responses.create(model=PINNED, input="Hello", stream=True))
    assert [e.type for e in events[-2:]] == ["error", "response.failed"]
    assert "groq" in events[-2].message and events[-1].response.status == "failed"


def test_stateful_requests_are_refused_as_the_sdk_expects(client):
    with pytest.raises(openai.BadRequestError, match="keeps no responses"):
        client.responses.create(model="auto", input="Hello", previous_response_id="resp_1")
