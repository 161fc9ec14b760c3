"""The streaming engine: fallback until the first token, an explicit failure after it."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from llmfallback.core.cooldown import CooldownPolicy
from llmfallback.core.engine import EngineSettings
from llmfallback.core.errors import (
    AllProvidersFailed,
    BadRequest,
    CallerError,
    ProviderError,
    RateLimited,
    Unavailable,
)
from llmfallback.core.memory_store import MemoryHealthStore
from llmfallback.core.ports import ApiKey
from llmfallback.core.stream_events import (
    Delta,
    StreamDone,
    StreamEnd,
    StreamFailed,
    StreamStart,
    ToolCallDelta,
)
from llmfallback.core.streaming import StreamingEngine, StreamSettings
from llmfallback.core.types import Usage

from .fakes import FakeClock, ask


@dataclass(frozen=True)
class Wait:
    """A script item: the provider takes this long before its next event."""

    seconds: float


def answer(*words, finish="stop"):
    return [Delta(w) for w in words] + [StreamEnd(finish, Usage(3, len(words), 3 + len(words)))]


@dataclass
class FakeStreamer:
    """Streams from a script: each call takes the next item, a list of events, Waits and
    ProviderErrors (raised where they stand) or a ProviderError raised before anything."""

    name: str
    script: list = field(default_factory=list)
    clock: FakeClock | None = None
    keys: tuple[ApiKey, ...] = (ApiKey("k1", "secret-1"),)
    model: str = "fake-model"
    missing: str = ""
    calls: list = field(default_factory=list)
    closed: int = 0

    def stream(self, request, *, key, timeouts, stall_s):
        self.calls.append((key.label, timeouts, stall_s))
        item = self.script.pop(0) if self.script else answer(f"from {self.name}")
        try:
            if isinstance(item, ProviderError):
                raise item
            for step in item:
                if isinstance(step, Wait):
                    self.clock.advance(step.seconds)
                elif isinstance(step, ProviderError):
                    raise step
                else:
                    yield step
        finally:
            self.closed += 1


def make_engine(*providers, clock, first_token_s=10.0, stall_s=5.0, max_s=300.0, **settings):
    store = MemoryHealthStore()
    engine = StreamingEngine(
        providers,
        store,
        CooldownPolicy(rng=lambda: 0.0),
        clock,
        EngineSettings(**settings),
        sleep=clock.advance,
        rng=lambda: 0.0,
        stream_settings=StreamSettings(
            first_token_timeout_s=first_token_s, stall_s=stall_s, max_s=max_s
        ),
    )
    return engine, store


@pytest.fixture
def clock():
    return FakeClock()


def text_of(events):
    return "".join(e.content for e in events if isinstance(e, Delta))


def test_it_streams_the_first_providers_answer_and_records_its_success(clock):
    groq = FakeStreamer("groq", [answer("Hel", "lo")], clock)
    engine, store = make_engine(groq, FakeStreamer("gemini", clock=clock), clock=clock)
    events = list(engine.stream(ask()))
    assert isinstance(events[0], StreamStart) and events[0].provider == "groq"
    assert text_of(events) == "Hello"
    done = events[-1]
    assert isinstance(done, StreamDone) and done.finish_reason == "stop"
    assert done.usage.completion_tokens == 2
    assert [(a.provider, a.error_type) for a in done.attempts] == [("groq", None)]
    assert store.providers["groq"].total_requests == 1 and not store.errors


def test_an_http_error_before_the_first_token_falls_back_and_cools_the_provider(clock):
    groq = FakeStreamer("groq", [RateLimited("slow down", status=429, retry_after=30)], clock)
    engine, store = make_engine(groq, FakeStreamer("gemini", clock=clock), clock=clock)
    events = list(engine.stream(ask()))
    assert events[0].provider == "gemini"
    assert [a.error_type for a in events[0].attempts] == ["rate_limit"]
    assert store.state("groq", "k1", now=clock()).cooldown_until >= clock() + 30


def test_an_error_inside_the_stream_before_any_token_falls_back(clock):
    broken = [Delta(""), Delta("  "), Unavailable("error in stream", status=200)]
    groq = FakeStreamer("groq", [broken], clock)
    engine, store = make_engine(
        groq, FakeStreamer("gemini", clock=clock), clock=clock, max_retries_per_provider=0
    )
    events = list(engine.stream(ask()))
    assert events[0].provider == "gemini"
    assert text_of(events) == "from gemini"  # nothing of groq's whitespace reached the caller
    assert [f.error.kind.value for f in store.errors] == ["unavailable"]
    assert groq.closed == 1


def test_a_transient_error_before_the_first_token_is_retried_on_the_same_provider(clock):
    groq = FakeStreamer("groq", [Unavailable("503", status=503), answer("ok")], clock)
    engine, _ = make_engine(groq, FakeStreamer("gemini", clock=clock), clock=clock)
    events = list(engine.stream(ask()))
    assert events[0].provider == "groq" and len(groq.calls) == 2


def test_no_first_token_within_the_first_token_timeout_falls_back(clock):
    slow = [Wait(11), *answer("late")]
    groq = FakeStreamer("groq", [slow], clock)
    engine, store = make_engine(
        groq, FakeStreamer("gemini", clock=clock), clock=clock, first_token_s=10
    )
    events = list(engine.stream(ask()))
    assert events[0].provider == "gemini"
    assert store.errors[0].error.kind.value == "timeout"
    # The attempt's budget handed to the provider is the first-token timeout, not the deadline.
    assert groq.calls[0][1].total == 10


@dataclass
class SelfTimedStreamer(FakeStreamer):
    """A provider that ends its own attempts at the limits where it reads (HTTPProvider): its
    events, however late they reach the engine, are in hand, and this worker's delay is not
    its silence."""

    times_its_reads: bool = True


def test_a_provider_that_times_its_reads_is_not_blamed_for_the_engines_delay(clock):
    late = [Wait(11), Delta("Hel"), Wait(6), Delta("lo"), StreamEnd("stop")]
    groq = SelfTimedStreamer("groq", [late], clock)
    engine, store = make_engine(
        groq, FakeStreamer("gemini", clock=clock), clock=clock, first_token_s=10, stall_s=5
    )
    events = list(engine.stream(ask()))
    assert events[0].provider == "groq" and text_of(events) == "Hello"
    assert isinstance(events[-1], StreamDone) and not store.errors


def test_a_failure_after_the_first_token_ends_with_an_explicit_failure_recorded_in_health(clock):
    groq = FakeStreamer("groq", [[Delta("Hel"), Unavailable("reset", status=200)]], clock)
    gemini = FakeStreamer("gemini", clock=clock)
    engine, store = make_engine(groq, gemini, clock=clock)
    events = list(engine.stream(ask()))
    assert text_of(events) == "Hel"
    failed = events[-1]
    assert isinstance(failed, StreamFailed) and failed.error.kind.value == "unavailable"
    assert not any(isinstance(e, StreamDone) for e in events)
    # gemini was asked to continue, but its new answer ("from gemini") does not begin with
    # the text already sent: nothing of it reaches the caller.
    assert len(gemini.calls) == 1
    assert [f.error.message for f in store.errors] == ["reset"]
    assert store.providers["groq"].total_failures == 1
    assert store.state("groq", "k1", now=clock()).cooldown_until > clock()


def test_a_stall_after_the_first_token_ends_the_stream_as_a_timeout(clock):
    groq = FakeStreamer("groq", [[Delta("Hel"), Wait(6), Delta("lo"), StreamEnd("stop")]], clock)
    engine, store = make_engine(groq, clock=clock, stall_s=5)
    events = list(engine.stream(ask()))
    assert text_of(events) == "Hel"
    assert isinstance(events[-1], StreamFailed)
    assert "stalled" in events[-1].error.message
    assert store.errors[0].error.kind.value == "timeout"


def test_slow_but_steady_content_is_no_stall(clock):
    steady = [Delta("a"), Wait(4), Delta("b"), Wait(4), Delta("c"), StreamEnd("stop")]
    engine, store = make_engine(FakeStreamer("groq", [steady], clock), clock=clock, stall_s=5)
    events = list(engine.stream(ask()))
    assert text_of(events) == "abc" and isinstance(events[-1], StreamDone)


def test_a_stream_cut_after_the_first_token_is_never_a_complete_answer(clock):
    groq = FakeStreamer("groq", [[Delta("Hel")]], clock)  # no StreamEnd: the connection closed
    engine, _ = make_engine(groq, clock=clock)
    events = list(engine.stream(ask()))
    assert isinstance(events[-1], StreamFailed)


def test_every_provider_failing_before_a_token_raises_all_failed_with_the_earliest_recovery(clock):
    groq = FakeStreamer("groq", [RateLimited("x", status=429, retry_after=30)], clock)
    gemini = FakeStreamer("gemini", [RateLimited("y", status=429, retry_after=40)], clock)
    engine, _ = make_engine(groq, gemini, clock=clock)
    with pytest.raises(AllProvidersFailed) as info:
        next(engine.stream(ask()))
    assert 30 <= info.value.retry_after <= 40
    assert [a.provider for a in info.value.attempts] == ["groq", "gemini"]


def test_a_malformed_request_is_the_callers_error_without_fallback(clock):
    gemini = FakeStreamer("gemini", clock=clock)
    groq = FakeStreamer("groq", [BadRequest("bad role", status=400)], clock)
    engine, store = make_engine(groq, gemini, clock=clock)
    with pytest.raises(CallerError):
        next(engine.stream(ask()))
    assert gemini.calls == []
    assert store.state("groq", "k1", now=clock()).cooldown_until == 0


def test_a_blocked_stream_is_the_callers_error_without_fallback_or_cooldown(clock):
    groq = FakeStreamer("groq", [[Delta(""), StreamEnd("content_filter")]], clock)
    gemini = FakeStreamer("gemini", clock=clock)
    engine, store = make_engine(groq, gemini, clock=clock)
    with pytest.raises(CallerError) as caught:
        list(engine.stream(ask()))
    assert caught.value.error.kind.value == "content_filter"
    assert gemini.calls == []
    assert store.state("groq", "k1", now=clock()).cooldown_until == 0


def test_operators_may_route_a_blocked_stream_to_the_next_provider(clock):
    groq = FakeStreamer("groq", [[Delta(""), StreamEnd("content_filter")]], clock)
    gemini = FakeStreamer("gemini", clock=clock)
    engine, store = make_engine(groq, gemini, clock=clock, content_filter_fallback=True)
    events = list(engine.stream(ask()))
    assert events[0].provider == "gemini"
    assert store.errors[0].error.kind.value == "content_filter"
    assert store.state("groq", "k1", now=clock()).cooldown_until == 0


def test_tool_call_deltas_count_as_the_first_token_and_finish_as_tool_calls(clock):
    call = [
        Delta(tool_calls=(ToolCallDelta(0, "call_1", "get_weather", ""),)),
        Delta(tool_calls=(ToolCallDelta(0, arguments='{"city":'),)),
        Delta(tool_calls=(ToolCallDelta(0, arguments='"Paris"}'),)),
        StreamEnd("stop"),
    ]
    engine, _ = make_engine(FakeStreamer("groq", [call], clock), clock=clock)
    events = list(engine.stream(ask()))
    assert isinstance(events[0], StreamStart)
    pieces = [tc.arguments for e in events if isinstance(e, Delta) for tc in e.tool_calls]
    assert "".join(pieces) == '{"city":"Paris"}'
    assert events[-1].finish_reason == "tool_calls"


def test_a_caller_who_leaves_mid_stream_closes_the_provider_stream_and_records_no_failure(clock):
    groq = FakeStreamer("groq", [answer("a", "b", "c")], clock)
    engine, store = make_engine(groq, clock=clock)
    events = engine.stream(ask())
    next(events), next(events)
    events.close()
    assert groq.closed == 1 and not store.errors


def test_the_requests_deadline_bounds_every_attempt_before_the_first_token(clock):
    groq = FakeStreamer("groq", [[Wait(6), *answer("late")]], clock)
    gemini = FakeStreamer("gemini", [[Wait(3), *answer("late too")]], clock)
    engine, _ = make_engine(groq, gemini, clock=clock, first_token_s=5, deadline_s=8)
    with pytest.raises(AllProvidersFailed) as info:
        next(engine.stream(ask()))
    assert gemini.calls[0][1].total == pytest.approx(2)  # what was left of the 8 s
    assert info.value.reason == "deadline exceeded"
