import pytest

from llmfallback.core.cooldown import CooldownPolicy
from llmfallback.core.engine import EngineSettings, FallbackEngine
from llmfallback.core.errors import (
    AllProvidersFailed,
    AuthFailed,
    BadRequest,
    CallerError,
    ContentFiltered,
    ProviderTimeout,
    QuotaExceeded,
    RateLimited,
    Unavailable,
)
from llmfallback.core.memory_store import MemoryHealthStore
from llmfallback.core.ports import ApiKey, Failure

from .fakes import FakeClock, FakeProvider, ask


def make_engine(*providers, clock=None, **settings):
    clock = clock or FakeClock()
    store = MemoryHealthStore()
    policy = CooldownPolicy(rng=lambda: 0.0)
    engine = FallbackEngine(
        providers,
        store,
        policy,
        clock,
        EngineSettings(**settings),
        sleep=clock.advance,
        rng=lambda: 0.0,
    )
    return engine, store, clock


def test_it_answers_from_the_first_provider():
    engine, _, _ = make_engine(FakeProvider("groq"), FakeProvider("gemini"))
    result = engine.chat(ask())
    assert (result.provider, result.content) == ("groq", "answer from groq")
    assert [a.error_type for a in result.attempts] == [None]


def test_it_falls_back_on_429_without_retrying_the_limited_provider():
    groq = FakeProvider("groq", [RateLimited("slow down", status=429, retry_after=30)])
    engine, _, _ = make_engine(groq, FakeProvider("gemini"))
    result = engine.chat(ask())
    assert result.provider == "gemini"
    assert len(groq.calls) == 1
    assert [(a.provider, a.error_type, a.status) for a in result.attempts] == [
        ("groq", "rate_limit", 429),
        ("gemini", None, 200),
    ]


def test_a_rate_limited_provider_is_not_called_before_retry_after():
    groq = FakeProvider("groq", [RateLimited("slow down", retry_after=30)])
    engine, _, clock = make_engine(groq, FakeProvider("gemini"))
    engine.chat(ask())
    clock.advance(29)
    assert engine.chat(ask()).provider == "gemini"
    assert len(groq.calls) == 1
    clock.advance(2)
    assert engine.chat(ask()).provider == "groq"


def test_a_shorter_later_hint_never_shortens_a_running_cooldown():
    groq = FakeProvider(
        "groq", [RateLimited("x", retry_after=100), RateLimited("y", retry_after=1)]
    )
    gemini = FakeProvider("gemini")
    engine, store, clock = make_engine(groq, gemini)
    engine.chat(ask())
    # Another worker, whose request was already in flight, records a 1 s hint afterwards.
    store.record_failure(
        Failure("groq", "k1", RateLimited("y", retry_after=1), 1.0, clock() + 1, "key"), now=clock()
    )
    clock.advance(50)
    assert engine.chat(ask()).provider == "gemini"
    assert len(groq.calls) == 1


def test_transient_failures_are_retried_then_cool_the_provider():
    groq = FakeProvider("groq", [Unavailable("503"), Unavailable("503"), Unavailable("503")])
    engine, store, clock = make_engine(groq, FakeProvider("gemini"), max_retries_per_provider=2)
    assert engine.chat(ask()).provider == "gemini"
    assert len(groq.calls) == 3
    assert store.state("groq", "k1", now=clock()).cooldown_until > clock()


def test_a_transient_failure_that_recovers_on_retry_leaves_no_cooldown():
    groq = FakeProvider("groq", [Unavailable("503")])
    engine, store, clock = make_engine(groq, FakeProvider("gemini"))
    assert engine.chat(ask()).provider == "groq"
    assert store.state("groq", "k1", now=clock()).cooldown_until == 0


def test_a_rate_limited_key_rotates_to_the_next_key_first():
    groq = FakeProvider(
        "groq", [RateLimited("x", retry_after=60)], keys=(ApiKey("k1", "a"), ApiKey("k2", "b"))
    )
    engine, store, clock = make_engine(groq, FakeProvider("gemini"))
    result = engine.chat(ask())
    assert (result.provider, result.key) == ("groq", "k2")
    assert store.state("groq", "k1", now=clock()).cooldown_until > clock()
    assert store.state("groq", "k2", now=clock()).cooldown_until == 0


@pytest.mark.parametrize(
    "error", [AuthFailed("revoked", status=401), QuotaExceeded("402", status=402)]
)
def test_a_spent_key_rotates_and_the_other_key_serves(error):
    groq = FakeProvider("groq", [error], keys=(ApiKey("k1", "a"), ApiKey("k2", "b")))
    engine, _, _ = make_engine(groq, FakeProvider("gemini"))
    assert engine.chat(ask()).key == "k2"


def test_auth_failure_marks_the_key_unavailable_until_reset():
    groq = FakeProvider("groq", [AuthFailed("revoked", status=401)])
    engine, store, clock = make_engine(groq, FakeProvider("gemini"))
    engine.chat(ask())
    clock.advance(10 * 86400)
    assert engine.chat(ask()).provider == "gemini"
    store.reset("groq")
    assert engine.chat(ask()).provider == "groq"


def test_the_callers_bad_request_is_returned_without_fallback_or_cooldown():
    groq = FakeProvider("groq", [BadRequest("invalid role", status=400)])
    gemini = FakeProvider("gemini")
    engine, store, clock = make_engine(groq, gemini)
    with pytest.raises(CallerError) as caught:
        engine.chat(ask())
    assert caught.value.error.message == "invalid role"
    assert gemini.calls == []
    assert store.state("groq", "k1", now=clock()).cooldown_until == 0


def test_a_context_overflow_falls_back_without_cooling_down():
    groq = FakeProvider("groq", [BadRequest("too long", status=400, too_large=True)])
    engine, store, clock = make_engine(groq, FakeProvider("gemini"))
    assert engine.chat(ask()).provider == "gemini"
    assert store.state("groq", "k1", now=clock()).cooldown_until == 0
    assert len(groq.calls) == 1


def test_a_content_filter_refusal_is_the_callers_answer_without_fallback_or_cooldown():
    groq, gemini = FakeProvider("groq", [ContentFiltered("blocked")]), FakeProvider("gemini")
    engine, store, clock = make_engine(groq, gemini)
    with pytest.raises(CallerError) as caught:
        engine.chat(ask())
    assert caught.value.error.kind.value == "content_filter"
    assert len(groq.calls) == 1 and gemini.calls == []  # never retried, never routed around
    assert store.state("groq", "k1", now=clock()).cooldown_until == 0


def test_operators_may_route_around_a_content_filter_without_cooling_the_provider():
    groq = FakeProvider("groq", [ContentFiltered("blocked")])
    engine, store, clock = make_engine(groq, FakeProvider("gemini"), content_filter_fallback=True)
    assert engine.chat(ask()).provider == "gemini"
    assert store.state("groq", "k1", now=clock()).cooldown_until == 0


def test_when_everything_cools_down_it_answers_at_once_with_the_earliest_recovery():
    groq = FakeProvider("groq", [RateLimited("x", retry_after=30)])
    gemini = FakeProvider("gemini", [RateLimited("x", retry_after=12)])
    engine, _, clock = make_engine(groq, gemini)
    with pytest.raises(AllProvidersFailed):
        engine.chat(ask())
    clock.advance(2)
    with pytest.raises(AllProvidersFailed) as caught:
        engine.chat(ask())
    assert caught.value.attempts == ()
    assert caught.value.retry_after == pytest.approx(10)
    assert len(groq.calls) == len(gemini.calls) == 1


def test_unconfigured_providers_are_skipped():
    engine, _, _ = make_engine(FakeProvider("groq", missing="GROQ_API_KEY"), FakeProvider("gemini"))
    assert engine.chat(ask()).provider == "gemini"


def test_the_deadline_bounds_the_whole_request():
    clock = FakeClock()
    slow = FakeProvider("groq", clock=clock, takes_s=1000)
    slow.script = [Unavailable("stalled")] * 3
    engine, _, _ = make_engine(slow, clock=clock, deadline_s=20, attempt_timeout_s=60)
    with pytest.raises(AllProvidersFailed) as caught:
        engine.chat(ask())
    assert caught.value.reason == "deadline exceeded"
    assert slow.calls[0][1].total == 20  # the last provider may use all the time left


def test_each_attempt_gets_at_most_the_remaining_time():
    clock = FakeClock()
    groq = FakeProvider("groq", [Unavailable("x")] * 3, clock=clock, takes_s=8)
    gemini = FakeProvider("gemini")
    engine, _, _ = make_engine(
        groq,
        gemini,
        clock=clock,
        deadline_s=30,
        attempt_timeout_s=60,
        read_timeout_s=25,
        retry_backoff_s=0.5,
    )
    engine.chat(ask())
    # While gemini remains, each attempt gets half the time left: 8 s per failed attempt,
    # then 0.5 s and 1 s of backoff before the two retries (the third is cut at its share).
    assert [t.total for _, t in groq.calls] == [15, 10.75, 6.25]
    # The last provider gets all that is left.
    assert gemini.calls[0][1].total == pytest.approx(6.25)
    assert gemini.calls[0][1].read == pytest.approx(6.25)


def test_a_provider_trickling_keepalives_leaves_time_for_the_fallback():
    clock = FakeClock()
    trickler = FakeProvider("deepseek", [ProviderTimeout("budget used")], clock=clock, takes_s=99)
    gemini = FakeProvider("gemini")
    engine, _, _ = make_engine(trickler, gemini, clock=clock, deadline_s=8, attempt_timeout_s=20)
    assert engine.chat(ask()).provider == "gemini"
    assert trickler.calls[0][1].total == 4  # half of the 8 s deadline
    assert gemini.calls[0][1].total == 4


def test_a_short_share_still_gets_the_floor():
    clock = FakeClock()
    groq = FakeProvider("groq", [ProviderTimeout("x")], clock=clock, takes_s=99)
    engine, _, _ = make_engine(
        groq, FakeProvider("gemini"), clock=clock, deadline_s=3, attempt_floor_s=2
    )
    engine.chat(ask())
    assert groq.calls[0][1].total == 2
