"""LLM_STREAM_MAX_S in the streaming engine: no stream outlives its total limit, however steady."""

from __future__ import annotations

import pytest

from llmfallback.core.errors import Unavailable
from llmfallback.core.stream_events import Delta, StreamDone, StreamEnd, StreamFailed

from .fakes import FakeClock, ask
from .test_streaming import FakeStreamer, Wait, make_engine, text_of


def trickle(*words, every_s):
    """One word every `every_s` seconds (each gap within the stall limit), then the end."""
    script = []
    for word in words:
        script += [Delta(word), Wait(every_s)]
    return [*script, StreamEnd("stop")]


@pytest.fixture
def clock():
    return FakeClock()


def test_a_steady_trickle_ends_with_a_timeout_event_once_the_stream_ran_its_limit(clock):
    groq = FakeStreamer("groq", [trickle(*"abcdefgh", every_s=4)], clock)
    gemini = FakeStreamer("gemini", clock=clock)
    engine, store = make_engine(groq, gemini, clock=clock, max_s=10, stall_s=5)
    events = list(engine.stream(ask()))
    assert text_of(events) == "abc"  # at 0, 4 and 8 s; "d" came at 12 s, past the limit
    failed = events[-1]
    assert isinstance(failed, StreamFailed) and failed.error.kind.value == "timeout"
    assert "total limit of 10s" in failed.error.message
    assert not any(isinstance(e, StreamDone) for e in events)
    assert gemini.calls == [] and groq.closed == 1  # no change of hands; connection released
    # Recorded in health as a timeout, exactly as a stall is.
    assert [f.error.kind.value for f in store.errors] == ["timeout"]
    assert store.providers["groq"].total_failures == 1
    assert [a.error_type for a in failed.attempts] == ["timeout"]


def test_the_limit_counts_from_the_requests_start_not_from_the_first_token(clock):
    groq = FakeStreamer("groq", [[Wait(6), Unavailable("reset", status=503)]], clock)
    gemini = FakeStreamer("gemini", [trickle("a", "b", "c", every_s=3)], clock)
    engine, _ = make_engine(groq, gemini, clock=clock, max_s=10, max_retries_per_provider=0)
    events = list(engine.stream(ask()))
    # gemini's tokens come at 6, 9 and 12 s after the request: "c" is past the limit, though
    # gemini itself had streamed for only 6 s.
    assert events[0].provider == "gemini" and text_of(events) == "ab"
    assert isinstance(events[-1], StreamFailed)
    assert [a.error_type for a in events[-1].attempts] == ["unavailable", "timeout"]


def test_a_stream_that_finishes_within_its_limit_is_whole(clock):
    groq = FakeStreamer("groq", [trickle("a", "b", "c", every_s=3)], clock)
    engine, store = make_engine(groq, clock=clock, max_s=10)
    events = list(engine.stream(ask()))
    assert text_of(events) == "abc" and isinstance(events[-1], StreamDone)
    assert not store.errors
