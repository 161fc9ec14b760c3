"""A stream that breaks after content reached the caller is continued on the next provider."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from llmfallback.core.errors import BadRequest, InvalidResponse, Unavailable
from llmfallback.core.splice import Splicer
from llmfallback.core.stream_events import (
    Delta,
    StreamDone,
    StreamEnd,
    StreamFailed,
    StreamResumed,
    StreamStart,
    ToolCallDelta,
)
from llmfallback.core.types import Usage

from .fakes import FakeClock, ask
from .test_streaming import FakeStreamer, Wait, make_engine, text_of

ANSWER = "A gateway earns trust only when the provider behind it misbehaves."
WORDS = ANSWER.split(" ")


def pieces(text: str) -> list[Delta]:
    words = text.split(" ")
    return [Delta(words[0])] + [Delta(" " + w) for w in words[1:]]


def whole(text: str) -> list:
    return [*pieces(text), StreamEnd("stop", Usage(10, 11, 21))]


@dataclass
class Continuing(FakeStreamer):
    """A provider that records each request; `capabilities` says whether it takes a prefill."""

    capabilities: frozenset = frozenset({"prefill"})
    requests: list = field(default_factory=list)

    def stream(self, request, **kwargs):
        self.requests.append(request)
        return super().stream(request, **kwargs)


@pytest.fixture
def clock():
    return FakeClock()


def cut_after(n: int, error=None) -> list:
    return [*pieces(" ".join(WORDS[:n])), error or Unavailable("connection reset", status=200)]


def test_a_cut_stream_is_continued_by_prefill_on_the_next_provider(clock):
    groq = Continuing("groq", [cut_after(4)], clock)
    rest = " " + " ".join(WORDS[4:])
    deepseek = Continuing("deepseek", [[Delta(rest), StreamEnd("stop")]], clock)
    engine, store = make_engine(groq, deepseek, clock=clock)
    events = list(engine.stream(ask()))
    assert text_of(events) == ANSWER
    assert deepseek.requests[0].prefill == "A gateway earns trust"
    resumed = [e for e in events if isinstance(e, StreamResumed)]
    assert [(r.provider, r.mode) for r in resumed] == [("deepseek", "prefill")]
    done = events[-1]
    assert isinstance(done, StreamDone) and done.finish_reason == "stop"
    assert [(s.provider, s.mode, s.start, s.chars) for s in done.served] == [
        ("groq", "fresh", 0, len("A gateway earns trust")),
        ("deepseek", "prefill", len("A gateway earns trust"), len(rest)),
    ]
    # The break is groq's failure, with its class, in health and in the attempts.
    assert [f.error.kind.value for f in store.errors] == ["unavailable"]
    assert [(a.provider, a.error_type) for a in done.attempts] == [
        ("groq", "unavailable"),
        ("deepseek", None),
    ]


def test_without_prefill_the_restarted_answer_is_spliced_after_the_text_sent(clock):
    groq = Continuing("groq", [cut_after(5)], clock)
    gemini = Continuing("gemini", [whole(ANSWER)], clock, capabilities=frozenset())
    engine, _ = make_engine(groq, gemini, clock=clock)
    events = list(engine.stream(ask()))
    assert text_of(events) == ANSWER  # nothing said twice, nothing lost
    assert gemini.requests[0].prefill == ""  # the original request, asked again
    assert [(s.provider, s.mode) for s in events[-1].served] == [
        ("groq", "fresh"),
        ("gemini", "splice"),
    ]


def test_a_splice_ignores_whitespace_differences(clock):
    groq = Continuing("groq", [[Delta("One  two\n\nthree"), Unavailable("cut", status=200)]], clock)
    gemini = Continuing(
        "gemini",
        [[Delta("One two three four"), StreamEnd("stop")]],
        clock,
        capabilities=frozenset(),
    )
    engine, _ = make_engine(groq, gemini, clock=clock)
    assert text_of(engine.stream(ask())) == "One  two\n\nthree four"


def test_a_restarted_answer_that_differs_is_never_relayed_and_the_original_failure_ends_it(clock):
    groq = Continuing("groq", [cut_after(3, Unavailable("reset by peer", status=200))], clock)
    gemini = Continuing(
        "gemini", [whole("Something else entirely.")], clock, capabilities=frozenset()
    )
    engine, store = make_engine(groq, gemini, clock=clock)
    events = list(engine.stream(ask()))
    assert text_of(events) == "A gateway earns"
    assert not any(isinstance(e, StreamResumed) for e in events)
    failed = events[-1]
    assert isinstance(failed, StreamFailed) and failed.error.message == "reset by peer"
    # A different answer is not gemini's failure: no cooldown, no error row.
    assert [f.provider for f in store.errors] == ["groq"]


def test_a_prefill_rejection_is_asked_again_without_prefill_and_never_the_final_error(clock):
    groq = Continuing("groq", [cut_after(4)], clock)
    rejects = BadRequest("does not support assistant message prefill", status=400)
    fallback = Continuing("generic", [rejects, whole(ANSWER)], clock)
    engine, store = make_engine(groq, fallback, clock=clock)
    events = list(engine.stream(ask()))
    assert text_of(events) == ANSWER
    assert [r.prefill for r in fallback.requests] == ["A gateway earns trust", ""]
    assert store.state("generic", "k1", now=clock()).cooldown_until == 0


def test_when_every_continuation_fails_the_caller_gets_the_original_failure_not_the_prefill_400(
    clock,
):
    groq = Continuing("groq", [cut_after(4, Unavailable("cut after 4", status=200))], clock)
    rejects = BadRequest("does not support assistant message prefill", status=400)
    fallback = Continuing("generic", [rejects, whole("A different answer.")], clock)
    engine, _ = make_engine(groq, fallback, clock=clock)
    failed = list(engine.stream(ask()))[-1]
    assert isinstance(failed, StreamFailed) and failed.error.message == "cut after 4"


def test_no_continuation_once_tool_call_pieces_were_sent(clock):
    call = Delta(tool_calls=(ToolCallDelta(0, "call_1", "get_weather", '{"ci'),))
    groq = Continuing("groq", [[call, Unavailable("cut", status=200)]], clock)
    gemini = Continuing("gemini", clock=clock)
    engine, _ = make_engine(groq, gemini, clock=clock)
    events = list(engine.stream(ask()))
    assert isinstance(events[-1], StreamFailed)
    assert gemini.requests == []


def test_a_malformed_event_is_a_break_at_that_point_and_nothing_is_dropped(clock):
    bad = InvalidResponse("a stream event that is not JSON", status=200)
    groq = Continuing("groq", [cut_after(6, bad)], clock)
    rest = " " + " ".join(WORDS[6:])
    deepseek = Continuing("deepseek", [[Delta(rest), StreamEnd("stop")]], clock)
    engine, store = make_engine(groq, deepseek, clock=clock)
    assert text_of(engine.stream(ask())) == ANSWER
    assert store.errors[0].error.kind.value == "invalid_response"


def test_a_stall_is_continued_after_the_stall_limit(clock):
    groq = Continuing("groq", [[*pieces("A gateway"), Wait(11), Delta(" earns")]], clock)
    deepseek = Continuing("deepseek", [[Delta(" earns trust"), StreamEnd("stop")]], clock)
    engine, store = make_engine(groq, deepseek, clock=clock, stall_s=10)
    assert text_of(engine.stream(ask())) == "A gateway earns trust"
    assert store.errors[0].error.kind.value == "timeout"


def test_a_continuation_that_ends_at_once_completes_the_answer(clock):
    groq = Continuing("groq", [cut_after(len(WORDS))], clock)
    deepseek = Continuing("deepseek", [[StreamEnd("stop", Usage(30, 0, 30))]], clock)
    engine, _ = make_engine(groq, deepseek, clock=clock)
    events = list(engine.stream(ask()))
    assert text_of(events) == ANSWER and isinstance(events[-1], StreamDone)


def test_usage_is_the_serving_providers_usage_added_up(clock):
    groq = Continuing("groq", [cut_after(4)], clock)
    deepseek = Continuing(
        "deepseek", [[Delta(" and more"), StreamEnd("stop", Usage(20, 3, 23))]], clock
    )
    engine, _ = make_engine(groq, deepseek, clock=clock)
    done = list(engine.stream(ask()))[-1]
    assert done.usage == Usage(20, 3, 23)  # the cut stream reported none


def test_a_second_break_moves_on_to_the_provider_after(clock):
    groq = Continuing("groq", [cut_after(2)], clock)
    deepseek = Continuing("deepseek", [[Delta(" earns"), Unavailable("again", status=200)]], clock)
    gemini = Continuing("gemini", [whole(ANSWER)], clock, capabilities=frozenset())
    engine, store = make_engine(groq, deepseek, gemini, clock=clock)
    events = list(engine.stream(ask()))
    assert text_of(events) == ANSWER
    assert deepseek.requests[0].prefill == "A gateway"
    assert [s.mode for s in events[-1].served] == ["fresh", "prefill", "splice"]
    assert [f.provider for f in store.errors] == ["groq", "deepseek"]


def test_the_first_event_is_still_the_stream_start(clock):
    groq = Continuing("groq", [cut_after(2)], clock)
    deepseek = Continuing("deepseek", [[Delta(" rest"), StreamEnd("stop")]], clock)
    engine, _ = make_engine(groq, deepseek, clock=clock)
    events = list(engine.stream(ask()))
    assert isinstance(events[0], StreamStart) and events[0].provider == "groq"


@pytest.mark.parametrize(
    ("sent", "again", "relayed"),
    [
        ("Hello wor", "Hello world!", "ld!"),
        ("Hello ", "Hello world", "world"),
        ("  Hello", "Hello there", " there"),
        ("Hello", "Hello", ""),
        ("Hello", "Help", None),
    ],
)
def test_the_splicer_relays_what_follows_the_text_sent(sent, again, relayed):
    splicer = Splicer(sent)
    out = "".join(splicer.feed(c) for c in again) + splicer.finish()
    assert (out if splicer.matched else None) == relayed
