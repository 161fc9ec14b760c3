"""Issue 8 in the engine: bounded waits, retries that respect the provider, episodes, refusals."""

import pytest

from llmfallback.core.cooldown import CooldownPolicy
from llmfallback.core.engine import EngineSettings, FallbackEngine
from llmfallback.core.errors import (
    AllProvidersFailed,
    BadRequest,
    CallerError,
    ContentFiltered,
    InvalidResponse,
    ProviderTimeout,
    Unavailable,
)
from llmfallback.core.memory_store import MemoryHealthStore
from llmfallback.core.ports import Failure

from .fakes import FakeClock, FakeProvider, ask


class Sleeper:
    """Advances the fake clock on sleep; runs `during` (another worker) while asleep."""

    def __init__(self, clock: FakeClock, during=None) -> None:
        self.clock, self.during, self.waits = clock, during, []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.during:
            self.during()
        self.clock.advance(seconds)


def engine_with(*providers, clock=None, store=None, sleep=None, rng=0.0, **settings):
    clock = clock or FakeClock()
    store = store or MemoryHealthStore()
    sleeper = sleep or Sleeper(clock)
    engine = FallbackEngine(
        providers,
        store,
        CooldownPolicy(rng=lambda: 0.0),
        clock,
        EngineSettings(**settings),
        sleep=sleeper,
        rng=lambda: rng,
    )
    return engine, store, clock, sleeper


def cooldown_left(store, clock, provider="groq"):
    return store.state(provider, "k1", now=clock()).cooldown_until - clock()


# -- Time: a stuck provider costs one bounded wait, once ------------------------------------


def test_with_default_settings_a_hanging_provider_costs_one_attempt_budget_then_falls_back():
    clock = FakeClock()
    hang = FakeProvider("groq", [ProviderTimeout("read timeout")], clock=clock, takes_s=10_000)
    engine, _, _, _ = engine_with(hang, FakeProvider("gemini"), clock=clock)
    started = clock()
    result = engine.chat(ask())
    assert result.provider == "gemini"
    defaults = EngineSettings()
    assert clock() - started == defaults.attempt_timeout_s < defaults.deadline_s
    assert len(hang.calls) == 1  # a timeout is not retried


def test_a_timeout_cools_the_provider_at_once_and_later_requests_skip_it_without_waiting():
    clock = FakeClock()
    hang = FakeProvider("groq", [ProviderTimeout("stalled")], clock=clock, takes_s=20)
    engine, store, _, _ = engine_with(hang, FakeProvider("gemini"), clock=clock)
    engine.chat(ask())
    assert cooldown_left(store, clock) == pytest.approx(30)
    before = clock()
    assert engine.chat(ask()).provider == "gemini"
    assert clock() == before  # no time spent on groq
    assert len(hang.calls) == 1


def test_each_attempt_gets_the_attempt_budget_capped_by_the_time_left():
    clock = FakeClock()
    slow = FakeProvider("groq", [ProviderTimeout("x")], clock=clock, takes_s=7)
    gemini = FakeProvider("gemini")
    engine, _, _, _ = engine_with(
        slow, gemini, clock=clock, deadline_s=10, attempt_timeout_s=7, connect_timeout_s=5
    )
    engine.chat(ask())
    assert slow.calls[0][1].total == 5  # half the time left while gemini remains
    assert gemini.calls[0][1].total == pytest.approx(5)
    assert gemini.calls[0][1].connect == pytest.approx(5)


# -- Retries respect the provider ------------------------------------------------------------


def test_retries_wait_with_jittered_exponential_backoff():
    groq = FakeProvider("groq", [Unavailable("503"), Unavailable("503")])
    engine, _, _, sleeper = engine_with(groq, rng=0.5, retry_backoff_s=0.2)
    assert engine.chat(ask()).provider == "groq"
    assert sleeper.waits == pytest.approx([0.3, 0.6])


def test_a_retry_stops_when_another_worker_cooled_the_provider_meanwhile():
    clock, store = FakeClock(), MemoryHealthStore()

    def other_worker_cools_groq():
        failure = Failure("groq", "k1", Unavailable("503"), 1.0, clock() + 60, "provider")
        store.record_failure(failure, now=clock())

    groq = FakeProvider("groq", [Unavailable("503")])
    engine, _, _, _ = engine_with(
        groq,
        FakeProvider("gemini"),
        clock=clock,
        store=store,
        sleep=Sleeper(clock, other_worker_cools_groq),
    )
    assert engine.chat(ask()).provider == "gemini"
    assert len(groq.calls) == 1


def test_a_named_wait_is_honoured_by_a_retry_inside_the_same_request():
    groq = FakeProvider("groq", [Unavailable("503", status=503, retry_after=1.5)])
    engine, store, clock, sleeper = engine_with(groq, retry_backoff_s=0.1)
    started = clock()
    assert engine.chat(ask()).provider == "groq"
    assert sleeper.waits == [1.5]
    # While this request waited, every other worker saw the provider cooling for the named wait.
    assert store.errors[0].cooldown_until == started + 1.5


def test_a_named_wait_longer_than_a_retry_is_worth_moves_on_at_once_and_becomes_the_cooldown():
    groq = FakeProvider("groq", [Unavailable("503", status=503, retry_after=45)])
    engine, store, clock, sleeper = engine_with(groq, FakeProvider("gemini"))
    assert engine.chat(ask()).provider == "gemini"
    assert sleeper.waits == []
    assert len(groq.calls) == 1
    assert cooldown_left(store, clock) == pytest.approx(45)


def test_no_retry_starts_when_its_wait_would_pass_the_deadline():
    clock = FakeClock()
    groq = FakeProvider("groq", [Unavailable("503", retry_after=1.0)], clock=clock, takes_s=9.5)
    engine, _, _, sleeper = engine_with(groq, clock=clock, deadline_s=10, attempt_timeout_s=10)
    with pytest.raises(AllProvidersFailed):
        engine.chat(ask())
    assert sleeper.waits == []


# -- Cooldowns grow with time, not with traffic ----------------------------------------------


def test_one_failing_request_cools_the_provider_for_its_class_base_time():
    groq = FakeProvider("groq", [Unavailable("503")] * 3)
    engine, store, clock, _ = engine_with(groq, FakeProvider("gemini"), max_retries_per_provider=2)
    engine.chat(ask())
    assert len(groq.calls) == 3
    assert cooldown_left(store, clock) == pytest.approx(CooldownPolicy().adaptive_base_s)


def test_concurrent_failures_of_one_episode_do_not_raise_the_backoff():
    clock, store = FakeClock(), MemoryHealthStore()
    waiting = []  # requests whose groq call is in flight when the one before them fails

    class InFlight(FakeProvider):
        def chat(self, request, *, key, timeouts):
            if waiting:
                waiting.pop().chat(ask())  # the next request reaches groq before this one fails
            return super().chat(request, key=key, timeouts=timeouts)

    for _ in range(12):
        groq = InFlight("groq", [Unavailable("503")])
        engine, _, _, _ = engine_with(
            groq, FakeProvider("gemini"), clock=clock, store=store, max_retries_per_provider=0
        )
        waiting.append(engine)
    waiting.pop().chat(ask())
    assert len([f for f in store.errors if f.provider == "groq"]) == 12
    assert store.providers["groq"].episodes == 1
    assert cooldown_left(store, clock) == pytest.approx(CooldownPolicy().adaptive_base_s)


def test_the_backoff_grows_only_when_the_provider_fails_again_after_a_cooldown_ended():
    groq = FakeProvider("groq", [Unavailable("503")] * 9)
    engine, store, clock, _ = engine_with(groq, FakeProvider("gemini"), max_retries_per_provider=2)
    lengths = []
    for _ in range(3):
        engine.chat(ask())
        lengths.append(round(cooldown_left(store, clock)))
        clock.advance(cooldown_left(store, clock) + 0.1)
    assert lengths == [10, 20, 40]
    groq.script = []  # it answers again: the next failure starts from the base
    assert engine.chat(ask()).provider == "groq"
    groq.script = [Unavailable("503")] * 3
    engine.chat(ask())
    assert round(cooldown_left(store, clock)) == 10


# -- The caller's own mistakes never punish everyone -----------------------------------------


def test_a_request_too_large_for_every_provider_is_one_413_naming_each_reason():
    groq = FakeProvider(
        "groq", [BadRequest("Request too large on TPM", status=413, too_large=True)]
    )
    gemini = FakeProvider(
        "gemini", [BadRequest("input token count exceeds", status=400, too_large=True)]
    )
    engine, store, clock, _ = engine_with(groq, gemini)
    with pytest.raises(CallerError) as caught:
        engine.chat(ask())
    assert caught.value.http_status == 413
    assert [(name, e.message) for name, e in caught.value.refusals] == [
        ("groq", "Request too large on TPM"),
        ("gemini", "input token count exceeds"),
    ]
    for name in ("groq", "gemini"):
        assert cooldown_left(store, clock, name) <= 0
        assert store.providers[name].last_error_type == "bad_request"
        assert store.providers[name].consecutive_failures == 0


def test_a_request_every_provider_refused_for_its_content_is_a_400():
    groq = FakeProvider("groq", [ContentFiltered("blocked")])
    gemini = FakeProvider("gemini", [InvalidResponse("not JSON", request_only=True)])
    engine, _, _, _ = engine_with(groq, gemini)
    with pytest.raises(CallerError) as caught:
        engine.chat(ask(json_mode=True))
    assert caught.value.http_status == 400


def test_an_unusable_answer_for_this_request_falls_back_without_cooldown_or_retry():
    groq = FakeProvider(
        "groq", [InvalidResponse("json_mode answer is not JSON", request_only=True)]
    )
    engine, store, clock, _ = engine_with(groq, FakeProvider("gemini"))
    assert engine.chat(ask(json_mode=True)).provider == "gemini"
    assert len(groq.calls) == 1
    assert cooldown_left(store, clock) <= 0


def test_a_refusal_beside_a_real_outage_is_still_an_outage():
    groq = FakeProvider("groq", [BadRequest("too large", status=413, too_large=True)])
    gemini = FakeProvider("gemini", [Unavailable("503")] * 3)
    engine, _, _, _ = engine_with(groq, gemini)
    with pytest.raises(AllProvidersFailed):
        engine.chat(ask())
