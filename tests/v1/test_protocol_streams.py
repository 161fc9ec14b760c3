"""The Anthropic and Responses stream writers consume the streaming engine's events generically:
Deltas are relayed as they come, StreamDone or StreamFailed ends the stream, any other event
(a provider taking a broken stream over, say) changes nothing the caller sees."""

import json
from dataclasses import dataclass

from llmfallback.core.errors import Unavailable
from llmfallback.core.stream_events import (
    Delta,
    StreamDone,
    StreamFailed,
    StreamStart,
    ToolCallDelta,
)
from llmfallback.core.types import Usage
from llmfallback.http import anthropic_stream, responses_stream

START = StreamStart("groq", "llama", "k1", ())
DONE = StreamDone("stop", Usage(3, 4, 7), ())


@dataclass(frozen=True)
class SomethingNew:
    """An engine event these writers have never heard of."""

    provider: str = "gemini"


def decoded(chunks) -> list[dict]:
    out = []
    for chunk in chunks:
        name, data = chunk.decode().strip().split("\n")
        out.append(json.loads(data[6:]) | {"_event": name[7:]})
    return out


def anthropic(events) -> list[dict]:
    return decoded(anthropic_stream.message_events(START, iter(events)))


def responses(events) -> list[dict]:
    return decoded(responses_stream.response_events(START, iter(events), {"model": "auto"}))


def test_an_unknown_event_between_deltas_changes_nothing():
    events = [Delta("The answer"), SomethingNew(), Delta(" is 42."), DONE]
    a = anthropic(events)
    assert (
        "".join(e["delta"]["text"] for e in a if e["type"] == "content_block_delta")
        == "The answer is 42."
    )
    assert [e["type"] for e in a].count("content_block_start") == 1 and a[-1][
        "type"
    ] == "message_stop"
    r = responses(events)
    assert (
        "".join(e["delta"] for e in r if e["type"] == "response.output_text.delta")
        == "The answer is 42."
    )
    assert r[-1]["type"] == "response.completed"
    assert r[-1]["response"]["output"][0]["content"][0]["text"] == "The answer is 42."


def test_text_then_tool_calls_make_separate_blocks_and_items():
    calls = (
        ToolCallDelta(0, "call_1", "get_weather", '{"city":'),
        ToolCallDelta(1, "call_2", "get_time", "{}"),
    )
    events = [
        Delta("Let me check."),
        Delta(tool_calls=calls),
        Delta(tool_calls=(ToolCallDelta(0, arguments='"Paris"}'),)),
    ]
    events.append(StreamDone("tool_calls", Usage(1, 2, 3), ()))
    a = anthropic(events)
    starts = [e["content_block"]["type"] for e in a if e["type"] == "content_block_start"]
    assert starts == ["text", "tool_use", "tool_use"]
    deltas = [e for e in a if e["type"] == "content_block_delta"]
    first_tool = "".join(e["delta"]["partial_json"] for e in deltas if e["index"] == 1)
    assert json.loads(first_tool) == {"city": "Paris"}
    stops = {e["index"]: n for n, e in enumerate(a) if e["type"] == "content_block_stop"}
    assert all(n < stops[e["index"]] for n, e in enumerate(a) if e in deltas)  # none after a stop
    r = responses(events)
    output = r[-1]["response"]["output"]
    assert [i["type"] for i in output] == ["message", "function_call", "function_call"]
    assert (
        json.loads(output[1]["arguments"]) == {"city": "Paris"} and output[2]["call_id"] == "call_2"
    )
    assert all(i["status"] == "completed" for i in output)


def test_a_failure_after_the_first_token_is_an_explicit_error_end():
    events = [Delta("The answer"), StreamFailed(Unavailable("connection reset", status=200), ())]
    a = anthropic(events)
    assert a[-1]["type"] == "error" and "connection reset" in a[-1]["error"]["message"]
    r = responses(events)
    assert [e["type"] for e in r[-2:]] == ["error", "response.failed"]
    assert r[-2]["code"] == "provider_unavailable"


def test_events_that_stop_without_an_end_say_so():
    assert anthropic([Delta("Cut")])[-1]["type"] == "error"
    assert responses([Delta("Cut")])[-1]["type"] == "response.failed"


def test_a_failure_of_our_own_mid_stream_is_an_explicit_error_end():
    def broken():
        yield Delta("Half")
        raise RuntimeError("the database went away")

    assert anthropic(broken())[-1]["error"]["message"] == "The gateway failed mid-stream."
    assert (
        responses(broken())[-1]["response"]["error"]["message"] == "The gateway failed mid-stream."
    )


def test_an_answer_cut_short_by_max_tokens_is_an_incomplete_response():
    r = responses([Delta("Long"), StreamDone("length", Usage(1, 1, 2), ())])
    assert r[-1]["type"] == "response.incomplete"
    assert r[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert (
        anthropic([Delta("Long"), StreamDone("length", Usage(1, 1, 2), ())])[-2]["delta"][
            "stop_reason"
        ]
        == "max_tokens"
    )
