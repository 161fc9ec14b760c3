"""The official anthropic SDK against a live gateway over the simulator: messages.create and
messages.stream, tools included, each against a provider that fails first.

Only base_url and api_key change (ANTHROPIC_BASE_URL and the agent key); the SDK's own retries
stay off so each test sees exactly one HTTP answer.
"""

import anthropic
import pytest

from tests.v1.test_anthropic_api import PINNED, WEATHER

FAIL_FIRST = {"behavior": "unavailable", "times": 3}  # groq fails, retries included


@pytest.fixture
def client(live_server, use_providers, sim):
    from llmfallback.access import agent_keys

    _, key = agent_keys.agent_key_create(name="claude-code")
    with anthropic.Anthropic(base_url=live_server.url, api_key=key, max_retries=0, timeout=20) as c:
        yield c


def hello(**kwargs):
    return {
        "model": "auto",
        "max_tokens": 256,
        "messages": [{"role": "user", "content": "Hello"}],
    } | kwargs


def test_create_falls_back_and_answers(client, sim):
    sim.script("groq", [FAIL_FIRST])
    raw = client.messages.with_raw_response.create(**hello(system="Be brief."))
    message = raw.parse()
    assert raw.headers["x-d8-provider"] == "gemini"
    assert message.content[0].text == "[gemini] Hello"
    assert message.stop_reason == "end_turn" and message.usage.output_tokens > 0


def test_create_with_tools_round_trips_after_a_fallback(client, sim):
    sim.script("groq", [FAIL_FIRST])
    sim.script("gemini", [{"behavior": "tool_call", "arguments": {"city": "Paris"}}])
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    first = client.messages.create(**hello(messages=messages, tools=[WEATHER]))
    (use,) = [b for b in first.content if b.type == "tool_use"]
    assert first.stop_reason == "tool_use" and use.input == {"city": "Paris"}
    # The agent's usual loop: the SDK's own content blocks go back with the tool's result.
    messages += [
        {"role": "assistant", "content": first.content},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "21 C"}],
        },
    ]
    second = client.messages.create(**hello(messages=messages, tools=[WEATHER]))
    assert second.content[0].text


def test_stream_falls_back_before_the_first_token(client, sim):
    sim.script("groq", [{"behavior": "error_in_stream", "times": 3}])
    with client.messages.stream(**hello()) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "[gemini] Hello" and final.content[0].text == text
    assert final.model == "gemini/gemini-2.5-flash" and final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0


def test_stream_with_tools_after_a_fallback(client, sim):
    sim.script("groq", [FAIL_FIRST])
    sim.script("gemini", [{"behavior": "tool_call", "arguments": {"city": "Paris"}}])
    with client.messages.stream(**hello(tools=[WEATHER])) as stream:
        final = stream.get_final_message()
    (use,) = [b for b in final.content if b.type == "tool_use"]
    assert use.name == "get_weather" and use.input == {"city": "Paris"}
    assert final.stop_reason == "tool_use"


def test_a_stream_broken_after_its_first_token_raises(client, sim):
    sim.script("groq", [{"behavior": "error_in_stream", "after_text": "The answer is"}])
    with pytest.raises(anthropic.APIStatusError, match="groq"):
        with client.messages.stream(**hello(model=PINNED)) as stream:
            for _ in stream.text_stream:
                pass


def test_no_provider_is_an_error_the_sdk_maps(client, sim):
    for name in ("groq", "gemini", "deepseek"):
        sim.script(name, [{"behavior": "rate_limit", "retry_after": 30, "retry_delay": "30s"}])
    with pytest.raises(anthropic.InternalServerError) as info:
        client.messages.create(**hello())
    assert info.value.status_code == 503 and info.value.body["error"]["type"] == "overloaded_error"
    with pytest.raises(anthropic.NotFoundError):
        client.messages.create(**hello(model="claude-opus-4"))


def test_count_tokens_answers_without_a_provider(client, sim):
    count = client.messages.count_tokens(
        model="auto", messages=[{"role": "user", "content": "Hello"}]
    )
    assert count.input_tokens >= 1 and sum(sim.calls().values()) == 0
