"""Stream parsers on real bytes: Groq's and Gemini's captured streams, DeepSeek's keep-alives,
errors inside a 200 stream, cut streams and stalls, over httpx.MockTransport byte streams."""

import json

import httpx
import pytest

from llmfallback.core.errors import (
    ContentFiltered,
    InvalidResponse,
    ProviderTimeout,
    RateLimited,
    Unavailable,
)
from llmfallback.core.stream_events import Delta, StreamEnd, ToolCallDelta
from llmfallback.core.types import Timeouts, Usage
from llmfallback.providers import Gemini, OpenAICompatible
from tests.core.fakes import FakeClock
from tests.providers.helpers import GEMINI_KEY, GROQ_KEY, NOW, TIMEOUTS, client_for, fixture, hello

SSE = {"content-type": "text/event-stream"}


def sse(name: str, *, crlf=False) -> bytes:
    """A captured .chunks.txt framed as the provider sends it: data lines, blank line after each."""
    end = b"\r\n\r\n" if crlf else b"\n\n"
    return b"".join(b"data: " + line + end for line in fixture(name).splitlines())


def streaming(chunks, *, status=200, headers=SSE, seen=None):
    """A handler answering with these byte chunks, one read each (callables run between)."""

    def body():
        for chunk in chunks:
            if callable(chunk):
                chunk()
            else:
                yield chunk

    def handler(request):
        if seen is not None:
            seen.append(request)
        return httpx.Response(status, headers=headers, content=body())

    return handler


def groq(handler, **kwargs):
    return OpenAICompatible(
        name="groq",
        base_url="https://api.groq.com/openai/v1",
        model="llama-3.3-70b-versatile",
        client=client_for(handler),
        keys=(GROQ_KEY,),
        wallclock=lambda: NOW,
        **kwargs,
    )


def gemini(handler, **kwargs):
    return Gemini(
        name="gemini",
        base_url="https://generativelanguage.googleapis.com/v1beta",
        model="gemini-3-pro-preview",
        client=client_for(handler),
        keys=(GEMINI_KEY,),
        wallclock=lambda: NOW,
        **kwargs,
    )


def run(provider, request=None, timeouts=TIMEOUTS, stall_s=5.0):
    key = provider.keys[0]
    return list(provider.stream(request or hello(), key=key, timeouts=timeouts, stall_s=stall_s))


def text(events):
    return "".join(e.content for e in events if isinstance(e, Delta))


def test_groqs_stream_gives_its_text_then_the_finish_and_usage():
    seen = []
    events = run(
        groq(streaming([sse("groq_stream_text.chunks.txt"), b"data: [DONE]\n\n"], seen=seen))
    )
    assert text(events) == "Introducing light."
    assert events[-1] == StreamEnd(
        "stop",
        Usage(45, 662, 707),
        "llama-3.3-70b-versatile",
        "chatcmpl-7eb08824-fb8d-47af-a1f0-3aa786f2d1f3",
    )
    body = json.loads(seen[0].content)
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert str(seen[0].url) == "https://api.groq.com/openai/v1/chat/completions"


def test_any_split_of_the_bytes_parses_the_same():
    raw = sse("groq_stream_text.chunks.txt", crlf=True) + b"data: [DONE]\r\n\r\n"
    one_by_one = [raw[i : i + 1] for i in range(len(raw))]
    assert run(groq(streaming(one_by_one))) == run(groq(streaming([raw])))


def test_groqs_tool_call_arrives_whole_in_one_delta():
    events = run(groq(streaming([sse("groq_stream_tool_call.chunks.txt"), b"data: [DONE]\n\n"])))
    deltas = [e for e in events if isinstance(e, Delta)]
    assert deltas == [Delta("", (ToolCallDelta(0, "tk85n1k4m", "weather", "{}"),))]
    assert events[-1].finish_reason == "tool_calls" and events[-1].usage.total_tokens == 225


def test_openai_style_tool_call_pieces_keep_their_index_id_and_fragments():
    chunk = '{"choices":[{"index":0,"delta":{"tool_calls":[%s]},"finish_reason":null}]}'
    first = '{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}'
    rest = '{"index":0,"function":{"arguments":"{\\"city\\":\\"Paris\\"}"}}'
    raw = [b"data: " + (chunk % piece).encode() + b"\n\n" for piece in (first, rest)]
    raw += [
        b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}\n\n',
        b"data: [DONE]\n\n",
    ]
    events = run(groq(streaming(raw)))
    assert [tc for e in events[:-1] for tc in e.tool_calls] == [
        ToolCallDelta(0, "call_1", "get_weather", ""),
        ToolCallDelta(0, None, None, '{"city":"Paris"}'),
    ]


def test_deepseeks_keep_alive_comments_and_blank_lines_are_skipped():
    raw = [b": keep-alive\n\n", b"\n", b": keep-alive\n\n"]
    raw += [
        b'data: {"id":"x","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}\n\n'
    ]
    raw += [
        b": keep-alive\n\n",
        b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n',
    ]
    raw += [b"data: [DONE]\n\n"]
    events = run(groq(streaming(raw)))
    assert text(events) == "Hi" and events[-1].finish_reason == "stop"


def test_groqs_error_object_inside_a_200_stream_is_an_unavailable_provider():
    raw = [
        b'data: {"id":"c","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n',
        b'data: {"error":{"message":"Internal Server Error","type":"internal_server_error"}}\n\n',
    ]
    with pytest.raises(Unavailable) as info:
        run(groq(streaming(raw)))
    assert info.value.status == 200 and "Internal Server Error" in info.value.message


def test_a_stream_that_closes_before_done_or_a_finish_is_not_complete():
    raw = [b'data: {"choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n']
    provider = groq(streaming(raw))
    events = provider.stream(hello(), key=GROQ_KEY, timeouts=TIMEOUTS, stall_s=5)
    assert next(events) == Delta("Hel")
    with pytest.raises(Unavailable, match="before \\[DONE\\]"):
        next(events)


def test_a_garbled_event_is_an_invalid_response():
    with pytest.raises(InvalidResponse):
        run(groq(streaming([b"data: {not json\n\n"])))


def test_an_error_status_on_a_stream_request_is_classified_as_for_chat():
    body = fixture("groq_429_tpm.json")
    handler = streaming(
        [body], status=429, headers={"content-type": "application/json", "retry-after": "7"}
    )
    with pytest.raises(RateLimited) as info:
        run(groq(handler))
    assert info.value.retry_after == 7


def test_a_server_that_ignores_stream_and_answers_whole_is_still_streamed():
    handler = streaming([fixture("groq_text.json")], headers={"content-type": "application/json"})
    events = run(groq(handler))
    assert text(events) and isinstance(events[-1], StreamEnd) and events[-1].usage.total_tokens > 0


def test_the_key_never_appears_in_an_error_from_inside_the_stream():
    leak = json.dumps({"error": {"message": f"bad key {GROQ_KEY.secret}", "type": "x"}}).encode()
    with pytest.raises(Unavailable) as info:
        run(groq(streaming([b"data: " + leak + b"\n\n"])))
    assert GROQ_KEY.secret not in str(info.value)


def test_geminis_sse_stream_has_no_done_and_ends_with_the_connection():
    seen = []
    events = run(gemini(streaming([sse("gemini_stream_text.chunks.txt", crlf=True)], seen=seen)))
    assert text(events) == 'There are **3** "r"s in strawberry.\n\nst**r**awbe**rr**y'
    # thinking tokens are billed as output, as for whole answers
    assert events[-1] == StreamEnd(
        "stop", Usage(9, 208, 217), "gemini-3-pro-preview", "bH6LaZW8Fp_3nsEPqtaSwQ4"
    )
    url = str(seen[0].url)
    assert url.endswith("/models/gemini-3-pro-preview:streamGenerateContent?alt=sse")
    assert GEMINI_KEY.secret not in url and seen[0].headers["x-goog-api-key"] == GEMINI_KEY.secret


def test_each_gemini_delta_carries_the_usage_so_far():
    events = run(gemini(streaming([sse("gemini_stream_text.chunks.txt", crlf=True)])))
    deltas = [e for e in events if isinstance(e, Delta)]
    # thinking (185) and the first 5 answer tokens, then 23: what a cut here has cost
    assert [d.usage for d in deltas] == [Usage(9, 190, 199), Usage(9, 208, 217)]


def test_geminis_function_call_becomes_one_whole_tool_call():
    events = run(gemini(streaming([sse("gemini_stream_tool_call.chunks.txt")])))
    (call,) = [tc for e in events if isinstance(e, Delta) for tc in e.tool_calls]
    assert (call.index, call.name, json.loads(call.arguments)) == (
        0,
        "weather",
        {"location": "San Francisco"},
    )
    assert call.id.startswith("call_")
    assert events[-1].finish_reason == "tool_calls"


def test_a_gemini_stream_cut_before_its_finish_reason_is_not_complete():
    first = fixture("gemini_stream_text.chunks.txt").splitlines()[0]
    with pytest.raises(Unavailable, match="finishReason"):
        run(gemini(streaming([b"data: " + first + b"\n\n"])))


def test_a_gemini_error_inside_the_stream_and_a_blocked_prompt():
    error = b'data: {"error":{"code":500,"message":"An internal error has occurred.","status":"INTERNAL"}}\n\n'
    with pytest.raises(Unavailable, match="internal error"):
        run(gemini(streaming([error])))
    blocked = b'data: {"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"},"usageMetadata":{"promptTokenCount":4}}\n\n'
    with pytest.raises(ContentFiltered):
        run(gemini(streaming([blocked])))


def test_keep_alives_after_the_first_token_do_not_hold_off_the_stall_timeout():
    clock = FakeClock()
    raw = [b'data: {"choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n']
    for _ in range(10):
        raw += [lambda: clock.advance(1.0), b": keep-alive\n\n"]
    raw += [b'data: {"choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}\n\n']
    provider = groq(streaming(raw), clock=clock)
    events = provider.stream(hello(), key=GROQ_KEY, timeouts=TIMEOUTS, stall_s=3.0)
    assert next(events) == Delta("Hel")
    with pytest.raises(ProviderTimeout, match="no content for 3s"):
        next(events)


def test_after_the_first_token_the_first_token_budget_no_longer_applies():
    clock = FakeClock()
    raw = []
    for word in ("a", "b", "c", "d"):
        raw += [
            lambda: clock.advance(2.0),
            b'data: {"choices":[{"index":0,"delta":{"content":"%s"}}]}\n\n' % word.encode(),
        ]
    raw += [
        b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
    ]
    budget = Timeouts(connect=1, read=3, total=3)  # the first token must come within 3 s
    events = run(groq(streaming(raw), clock=clock), timeouts=budget, stall_s=3.0)
    assert text(events) == "abcd"  # 8 s in all, never 3 s without content


def test_keep_alives_alone_never_stand_in_for_a_first_token():
    clock = FakeClock()
    raw = []
    for _ in range(10):
        raw += [lambda: clock.advance(1.0), b": keep-alive\n\n"]
    budget = Timeouts(connect=1, read=30, total=4)
    with pytest.raises(ProviderTimeout):
        run(groq(streaming(raw), clock=clock), timeouts=budget)


def _suspended_stream():
    """A Groq stream taken up to its first event: suspended inside its attempt budget."""
    raw = [sse("groq_stream_text.chunks.txt"), b"data: [DONE]\n\n"]
    events = groq(streaming(raw)).stream(hello(), key=GROQ_KEY, timeouts=TIMEOUTS, stall_s=5)
    assert isinstance(next(events), Delta)
    return events


def test_a_suspended_stream_keeps_its_attempt_budget_to_itself():
    from llmfallback.providers.budget import current_budget

    events = _suspended_stream()
    # What the caller's thread does meanwhile (another provider call, a test after this one)
    # is not held to the stream's deadline.
    assert current_budget() is None
    assert isinstance(list(events)[-1], StreamEnd)
    assert current_budget() is None


def test_a_stream_closed_from_another_thread_closes_cleanly():
    import threading

    events, failed = _suspended_stream(), []

    def close():
        try:
            events.close()  # as the garbage collector may, wherever it runs
        except BaseException as e:  # noqa: BLE001
            failed.append(e)

    closer = threading.Thread(target=close)
    closer.start()
    closer.join()
    assert failed == []
