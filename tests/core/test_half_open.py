"""Half-open recovery: when a provider's cooldown ends, one request (the probe) tries it."""

from llmfallback.core.cooldown import CooldownPolicy
from llmfallback.core.engine import EngineSettings, FallbackEngine
from llmfallback.core.errors import RateLimited, Unavailable
from llmfallback.core.memory_store import MemoryHealthStore
from llmfallback.core.ports import ApiKey
from llmfallback.core.streaming import StreamingEngine

from .fakes import FakeClock, FakeProvider, ask


def engine_on(store, clock, *providers):
    return FallbackEngine(
        providers,
        store,
        CooldownPolicy(rng=lambda: 0.0),
        clock,
        EngineSettings(max_retries_per_provider=0),
        sleep=clock.advance,
        rng=lambda: 0.0,
    )


def cooled_groq(script=()):
    """groq fails once (a 10 s provider cooldown, episode 1); the clock then passes its end."""
    clock, store = FakeClock(), MemoryHealthStore()
    groq = FakeProvider("groq", [Unavailable("down"), *script])
    gemini = FakeProvider("gemini")
    engine_on(store, clock, groq, gemini).chat(ask())
    clock.advance(11)
    return clock, store, groq, gemini


def test_the_healthy_path_never_asks_for_the_probe_lease():
    clock, store = FakeClock(), MemoryHealthStore()
    asked = []
    store.try_acquire_probe = lambda *a, **k: asked.append(a) or True
    engine = engine_on(store, clock, FakeProvider("groq"))
    for _ in range(3):
        engine.chat(ask())
    assert asked == []


def test_after_a_cooldown_ends_only_the_lease_holder_calls_the_provider():
    clock, store, groq, gemini = cooled_groq()
    # Another worker took the lease a moment ago and is still calling groq.
    assert store.try_acquire_probe("groq", now=clock(), lease_s=60)

    results = [engine_on(store, clock, groq, gemini).chat(ask()) for _ in range(5)]

    assert [r.provider for r in results] == ["gemini"] * 5
    assert len(groq.calls) == 1  # only the first failure: no request called it while half-open


def test_a_successful_probe_closes_the_half_open_state_for_everyone():
    clock, store, groq, gemini = cooled_groq()
    engine = engine_on(store, clock, groq, gemini)

    assert engine.chat(ask()).provider == "groq"  # the probe
    state = store.state("groq", "k1", now=clock())
    assert (state.probe_due, state.episodes) == (False, 0)
    assert [engine.chat(ask()).provider for _ in range(3)] == ["groq"] * 3


def test_a_failed_probe_renews_the_cooldown_with_the_next_episodes_backoff():
    clock, store, groq, gemini = cooled_groq(script=[Unavailable("still down")])
    engine = engine_on(store, clock, groq, gemini)

    assert engine.chat(ask()).provider == "gemini"  # the probe failed over

    state = store.state("groq", "k1", now=clock())
    assert state.episodes == 2
    assert state.cooldown_until == clock() + 20  # 10 s doubled, not the base again
    # The lease is released, and the next probe is due after the probe interval (15 s), not
    # only when the (growing) cooldown ends.
    assert store.providers["groq"].probe_until == clock() + 15
    clock.advance(14)
    assert engine.chat(ask()).provider == "gemini"
    assert len(groq.calls) == 2
    clock.advance(1)
    assert engine.chat(ask()).provider == "groq"  # probed while its cooldown still runs
    assert store.state("groq", "k1", now=clock()).cooldown_until <= clock()


def test_a_lease_left_by_a_killed_worker_lapses_and_another_request_probes():
    clock, store, groq, gemini = cooled_groq()
    assert store.try_acquire_probe("groq", now=clock(), lease_s=60)  # that worker then dies

    engine = engine_on(store, clock, groq, gemini)
    assert engine.chat(ask()).provider == "gemini"
    clock.advance(60)
    assert engine.chat(ask()).provider == "groq"


def test_the_lease_is_granted_once_and_only_when_the_probe_slot_is_open():
    clock, store, _, _ = cooled_groq()
    store.providers["groq"].probe_until = clock() + 5
    assert not store.try_acquire_probe("groq", now=clock(), lease_s=60)
    clock.advance(5)
    assert store.try_acquire_probe("groq", now=clock(), lease_s=60)
    assert not store.try_acquire_probe("groq", now=clock(), lease_s=60)


def test_a_probe_refused_for_one_key_rate_limit_still_tries_the_next_key():
    clock, store = FakeClock(), MemoryHealthStore()
    keys = (ApiKey("k1", "s1"), ApiKey("k2", "s2"))
    groq = FakeProvider("groq", [Unavailable("down"), RateLimited("k1 limited")], keys=keys)
    gemini = FakeProvider("gemini")
    engine = engine_on(store, clock, groq, gemini)
    engine.chat(ask())
    clock.advance(11)

    result = engine.chat(ask())

    assert (result.provider, result.key) == ("groq", "k2")  # one probe request, two keys
    assert store.state("groq", "k2", now=clock()).probe_due is False


def test_a_stream_is_gated_by_the_same_lease_and_a_streamed_probe_closes_it():
    from .test_streaming import FakeStreamer, text_of

    clock, store, _, _ = cooled_groq()
    groq, gemini = FakeStreamer("groq", clock=clock), FakeStreamer("gemini", clock=clock)
    engine = StreamingEngine([groq, gemini], store, CooldownPolicy(), clock, sleep=clock.advance)
    assert store.try_acquire_probe("groq", now=clock(), lease_s=60)  # another worker's probe

    assert text_of(engine.stream(ask())) == "from gemini"
    assert groq.calls == []
    store.end_probe("groq", healthy=False, now=clock())  # that probe was refused, say
    assert text_of(engine.stream(ask())) == "from groq"  # this stream is the probe
    assert store.state("groq", "k1", now=clock()).probe_due is False


def test_a_provider_down_for_a_minute_is_back_within_the_probe_interval_of_recovering():
    """One request every 4 s; the primary answers 503 for 60 s. Its cooldown doubles with each
    failed probe (10, 20, 40 s), but a probe comes at least every 15 s."""
    clock, store = FakeClock(), MemoryHealthStore()
    start = clock()

    called_at = []

    class Flapping(FakeProvider):
        def chat(self, request, *, key, timeouts):
            called_at.append(clock() - start)
            if clock() - start < 60:
                raise Unavailable("503 overloaded", status=503)
            return super().chat(request, key=key, timeouts=timeouts)

    groq, gemini = Flapping("groq"), FakeProvider("gemini")
    served = []
    for _ in range(25):
        served.append((clock() - start, engine_on(store, clock, groq, gemini).chat(ask()).provider))
        clock.advance(4)
    back = min(t for t, provider in served if provider == "groq")
    assert 60 <= back <= 60 + 15 + 4
    assert all(provider == "gemini" for t, provider in served if t < 60)
    # Probe discipline: during the outage at most one call per probe, never one per request.
    assert len([t for t in called_at if t < 60]) <= 60 / 15 + 1


def test_a_first_failure_makes_the_provider_suspect_for_every_worker_while_it_retries():
    clock, store = FakeClock(), MemoryHealthStore()
    groq = FakeProvider("groq", [Unavailable("503")])
    gemini = FakeProvider("gemini")
    during_backoff = []

    def sleep(seconds):  # meanwhile another worker serves a request on the same store
        during_backoff.append(engine_on(store, clock, groq, gemini).chat(ask()).provider)
        clock.advance(seconds)

    engine = FallbackEngine(
        [groq, gemini], store, CooldownPolicy(rng=lambda: 0.0), clock, sleep=sleep, rng=lambda: 0.0
    )
    assert engine.chat(ask()).provider == "groq"  # the retry succeeded
    assert during_backoff == ["gemini"]  # the other request went elsewhere
    assert len(groq.calls) == 2
    state = store.state("groq", "k1", now=clock())
    assert not state.leased and state.episodes == 0  # the success cleared the suspicion


def test_a_stream_releases_its_probe_lease_at_the_first_token():
    from llmfallback.core.stream_events import Delta

    from .test_streaming import FakeStreamer, answer

    clock, store, _, _ = cooled_groq()
    groq = FakeStreamer("groq", [answer("one", "two", "three")], clock=clock)
    engine = StreamingEngine([groq], store, CooldownPolicy(), clock, sleep=clock.advance)
    events = engine.stream(ask())
    while not isinstance(next(events), Delta):
        pass
    state = store.state("groq", "k1", now=clock())
    assert not state.leased and not state.probe_due  # others may call it while this streams
    list(events)


def test_a_suspect_lease_left_by_a_killed_worker_lapses_within_seconds():
    clock, store = FakeClock(), MemoryHealthStore()
    groq = FakeProvider("groq", [Unavailable("503")])
    gemini = FakeProvider("gemini")

    def killed(seconds):  # the worker dies during its backoff: its lease is never released
        raise SystemExit

    engine = FallbackEngine(
        [groq, gemini], store, CooldownPolicy(rng=lambda: 0.0), clock, sleep=killed
    )
    release = store.end_probe
    store.end_probe = lambda *a, **k: None  # SIGKILL: no finally ever runs
    try:
        engine.chat(ask())
    except SystemExit:
        pass
    store.end_probe = release
    assert store.state("groq", "k1", now=clock()).leased
    assert engine_on(store, clock, groq, gemini).chat(ask()).provider == "gemini"  # suspect
    clock.advance(6)  # the backoff and a few seconds of the retry it never made
    assert engine_on(store, clock, groq, gemini).chat(ask()).provider == "groq"
