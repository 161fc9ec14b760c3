"""Our lateness is not the provider's silence: a limit is the provider's failure only when the
wait for its bytes ended with nothing. Bytes that arrived in time but were read late, because
the worker was busy (a loop relaying a thousand streams, a thread waiting for the GIL), are its
answer. Before this, under load, Groq's healthy streams were recorded as its timeouts."""

from __future__ import annotations

import socket

import httpcore
import httpx
import pytest

from llmfallback.core.errors import ProviderTimeout
from llmfallback.core.stream_events import Delta, StreamEnd
from llmfallback.providers.budget import Budget, attempt_budget
from llmfallback.providers.openai_stream import OpenAIStream
from llmfallback.providers.stream_reader import events
from llmfallback.providers.transport import DeadlineStream
from tests.providers.test_transport import FakeClock, RecordingStream

pytestmark = pytest.mark.no_database

ROLE = b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n'
SPACE = b'data: {"choices":[{"index":0,"delta":{"content":" "}}]}\n\n'
TOKEN = b'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n'
FINISH = b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'


def body(clock: FakeClock, steps) -> httpx.Response:
    """An SSE answer whose chunks come after the clock moved: (seconds, bytes) each."""

    def chunks():
        for seconds, data in steps:
            clock.now += seconds
            yield data

    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=chunks())


def read_all(clock, steps, *, first_token_s=10.0, stall_s=5.0) -> list:
    budget = Budget(first_token_s, clock)
    return list(
        events(body(clock, steps), budget, OpenAIStream("m"), clock, first_token_s, stall_s)
    )


def test_a_first_token_read_after_the_deadline_is_served_not_timed_out():
    got = read_all(FakeClock(), [(0, ROLE), (12, TOKEN + FINISH)])
    assert [e.content for e in got if isinstance(e, Delta)] == ["Hi"]
    assert isinstance(got[-1], StreamEnd)


def test_past_the_deadline_events_without_a_token_are_still_a_timeout():
    with pytest.raises(ProviderTimeout, match="total deadline"):
        read_all(FakeClock(), [(0, ROLE), (12, SPACE)])


def test_after_the_first_token_a_late_read_with_an_event_is_no_stall():
    got = read_all(FakeClock(), [(0, TOKEN), (7, TOKEN), (7, FINISH)], stall_s=5)
    assert [e.content for e in got if isinstance(e, Delta)] == ["Hi", "Hi"]


@pytest.mark.parametrize("line", [b": keep-alive\n\n", b"\n\n"])
def test_a_late_read_of_keep_alives_alone_is_still_a_stall(line):
    with pytest.raises(ProviderTimeout, match="no content"):
        read_all(FakeClock(), [(0, TOKEN), (7, line), (0, FINISH)], stall_s=5)


def test_a_read_past_the_budget_takes_the_bytes_already_on_the_socket():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        stream = DeadlineStream(RecordingStream(sock=ours))
        clock = FakeClock()
        with attempt_budget(1.0, clock):
            theirs.sendall(b"arrived in time")
            clock.now += 5  # the worker came back late
            assert stream.read(100, timeout=30) == b"arrived in time"
            with pytest.raises(httpcore.ReadTimeout):  # nothing there: at once, no wait
                stream.read(100, timeout=30)
