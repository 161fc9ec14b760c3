"""The SSE writer alone: OpenAI's chunk shapes, and no way for a stream to end looking whole
unless the provider finished."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from llmfallback.core.errors import ProviderTimeout
from llmfallback.core.stream_events import (
    Delta,
    StreamDone,
    StreamFailed,
    StreamStart,
    ToolCallDelta,
)
from llmfallback.core.types import Usage
from llmfallback.http import sse

START = StreamStart("groq", "llama-3.3-70b-versatile", "k1", ())


def decoded(items) -> list:
    out = []
    for raw in items:
        assert raw.startswith(b"data: ") and raw.endswith(b"\n\n")
        data = raw[6:-2].decode()
        out.append(data if data == "[DONE]" else json.loads(data))
    return out


def test_tool_call_pieces_are_written_as_openai_deltas():
    first = Delta(tool_calls=(ToolCallDelta(0, "call_1", "get_weather", ""),))
    rest = Delta(tool_calls=(ToolCallDelta(0, arguments='{"city":"Paris"}'),))
    events = [first, rest, StreamDone("tool_calls", Usage(1, 2, 3), ())]
    out = decoded(sse.chunks(START, iter(events), include_usage=False))
    assert out[1]["choices"][0]["delta"] == {
        "tool_calls": [
            {
                "index": 0,
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": ""},
            }
        ]
    }
    assert out[2]["choices"][0]["delta"] == {
        "tool_calls": [{"index": 0, "function": {"arguments": '{"city":"Paris"}'}}]
    }
    assert out[-2]["choices"][0]["finish_reason"] == "tool_calls" and out[-1] == "[DONE]"


def test_a_failure_is_an_error_event_and_nothing_after_it():
    failure = StreamFailed(ProviderTimeout("stream stalled: no content for 30s"), ())
    out = decoded(sse.chunks(START, iter([Delta("Hi"), failure]), include_usage=True))
    assert out[-1]["error"]["code"] == "provider_timeout"
    assert "stalled" in out[-1]["error"]["message"]
    assert "[DONE]" not in out and not any(e.get("usage") for e in out if "choices" in e)


def test_our_own_crash_mid_stream_is_an_error_event_not_a_quiet_end():
    def events():
        yield Delta("Hi")
        raise RuntimeError("database went away")

    out = decoded(sse.chunks(START, events(), include_usage=False))
    assert out[-1]["error"]["code"] == "internal" and "database" not in json.dumps(out)


def test_events_that_stop_without_an_end_are_not_a_complete_stream():
    out = decoded(sse.chunks(START, iter([Delta("Hi")]), include_usage=False))
    assert out[-1]["error"]["code"] == "stream_ended" and "[DONE]" not in out


def test_closing_the_response_closes_the_events_at_once():
    closed = []

    def events():
        try:
            yield Delta("a")
            yield Delta("b")
        finally:
            closed.append(True)

    body = sse.chunks(START, events(), include_usage=False)
    next(body), next(body)
    body.close()
    assert closed == [True]


_text = st.text(st.characters(codec="utf-8"), max_size=40)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    models=st.lists(_text, min_size=1, max_size=3),
    usage=st.booleans(),
    deltas=st.lists(
        st.one_of(
            st.builds(lambda t: {"content": t}, _text),
            st.builds(
                lambda t, n, a: {
                    "tool_calls": [{"index": 0, "function": {"name": n, "arguments": a}}]
                },
                _text,
                _text,
                _text,
            ),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_a_delta_chunk_is_the_whole_chunk_encoded_byte_for_byte(models, usage, deltas):
    """The stream's fields are encoded once; each chunk still reads exactly as encoding the
    whole chunk would write it, across a change of model mid-stream."""
    base = {
        "id": "chatcmpl-d8x",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": models[0],
        "system_fingerprint": None,
    }
    if usage:
        base["usage"] = None
    framing = sse.DeltaFraming(base)
    for model in models:
        base["model"] = model
        for delta in deltas:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}
            assert framing.event(delta) == sse.event(base | {"choices": [choice]})
