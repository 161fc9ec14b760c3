"""What an OpenAI-compatible provider receives for a /v1 request, and what it answers back."""

import json

from llmfallback.core.types import ChatRequest, JsonSchema, Message, Tool, ToolCall, ToolChoice
from llmfallback.providers import OpenAICompatible
from tests.providers.helpers import GROQ_KEY, NOW, TIMEOUTS, client_for, replying

TOOL_ANSWER = {
    "id": "chatcmpl-7b1c",
    "object": "chat.completion",
    "created": 1760000000,
    "model": "llama-3.3-70b-versatile",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_9zq1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {"prompt_tokens": 40, "completion_tokens": 12, "total_tokens": 52},
}


def groq(handler) -> OpenAICompatible:
    return OpenAICompatible(
        name="groq",
        base_url="https://api.groq.com/openai/v1",
        model="llama-3.3-70b-versatile",
        client=client_for(handler),
        keys=(GROQ_KEY,),
        wallclock=lambda: NOW,
        max_tokens_field="max_completion_tokens",
    )


def test_groq_receives_every_option_as_openai_names_it():
    seen = []
    call = ToolCall("call_1", "get_weather", '{"city":"Oslo"}')
    request = ChatRequest(
        (
            Message("user", "ab", parts=("a", "b")),
            Message("assistant", "", tool_calls=(call,)),
            Message("tool", "cold", tool_call_id="call_1"),
        ),
        temperature=None,
        max_tokens=99,
        tools=(Tool("get_weather", "", {"type": "object", "properties": {}}),),
        tool_choice=ToolChoice("required", "get_weather"),
        parallel_tool_calls=False,
        stop=("END",),
        top_p=0.9,
        seed=3,
        user="agent-7",
        json_mode=True,
        json_schema=JsonSchema("w", {"type": "object"}, strict=True),
    )
    groq(replying(200, json.dumps(TOOL_ANSWER), seen=seen)).chat(
        request, key=GROQ_KEY, timeouts=TIMEOUTS
    )
    body = json.loads(seen[0].content)
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                }
            ],
        },
        {"role": "tool", "content": "cold", "tool_call_id": "call_1"},
    ]
    assert body["max_completion_tokens"] == 99 and "max_tokens" not in body
    assert "temperature" not in body  # unset: the provider's default
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "w", "schema": {"type": "object"}, "strict": True},
    }
    assert (body["stop"], body["top_p"], body["seed"], body["user"]) == (["END"], 0.9, 3, "agent-7")
    assert body["parallel_tool_calls"] is False


def test_a_tool_call_answer_keeps_its_id_arguments_and_finish_reason():
    request = ChatRequest((Message("user", "Weather?"),), json_mode=True)
    completion = groq(replying(200, json.dumps(TOOL_ANSWER))).chat(
        request, key=GROQ_KEY, timeouts=TIMEOUTS
    )
    assert completion.tool_calls == (ToolCall("call_9zq1", "get_weather", '{"city":"Paris"}'),)
    assert completion.finish_reason == "tool_calls"
    assert (completion.id, completion.created) == ("chatcmpl-7b1c", 1760000000)


def test_the_seed_request_still_sends_what_it_always_sent():
    seen = []
    answer = json.loads(json.dumps(TOOL_ANSWER))
    answer["choices"][0]["message"] = {"role": "assistant", "content": "hi"}
    request = ChatRequest.from_dicts([{"role": "user", "content": "Hi"}])
    groq(replying(200, json.dumps(answer), seen=seen)).chat(
        request, key=GROQ_KEY, timeouts=TIMEOUTS
    )
    assert json.loads(seen[0].content) == {
        "model": "llama-3.3-70b-versatile",
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": False,
        "temperature": 0.7,
        "max_completion_tokens": 2000,
    }
