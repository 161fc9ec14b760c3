"""Buffered success counts (LLM_SUCCESS_FLUSH_S): summed per worker, written whole, never lost."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from llmfallback.health.store import SuccessBuffer, successes_write
from llmfallback.models import Counter, KeyHealth, ProviderHealth, UsageBucket

NOW = 1_800_000_000.0


@pytest.fixture
def rows(db):
    for name in ("groq", "gemini"):
        row = ProviderHealth.objects.create(name=name, consecutive_failures=3)
        KeyHealth.objects.create(provider=row, label="k1", consecutive_failures=3)


def test_one_write_counts_every_success_per_provider_key_bucket_and_request(rows):
    successes_write(
        [("groq", "k1", 80.0, NOW), ("groq", "k1", 300.0, NOW), ("gemini", "k1", 20.0, NOW)]
    )

    groq = ProviderHealth.objects.get(name="groq")
    assert (groq.total_requests, groq.consecutive_failures) == (2, 0)
    assert KeyHealth.objects.get(provider=groq).total_requests == 2
    assert Counter.objects.get(name="requests").value == 3
    gateway = UsageBucket.objects.get(provider="")
    histogram = (gateway.h17, gateway.h25, gateway.h32)  # 20, 80, 300 ms
    assert (gateway.requests, gateway.latency_sum_ms, histogram) == (3, 400.0, (1, 1, 1))
    assert groq.latency_total_ms == KeyHealth.objects.get(provider=groq).latency_total_ms == 380.0
    assert UsageBucket.objects.get(provider="gemini").requests == 1


def test_buffered_successes_from_many_threads_are_all_written_on_flush(rows):
    buffer = SuccessBuffer(interval_s=3600)  # only the explicit flush writes

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: buffer.add(("groq", "k1", 10.0, NOW + i)), range(200)))
    assert ProviderHealth.objects.get(name="groq").total_requests == 0
    buffer.flush()

    assert ProviderHealth.objects.get(name="groq").total_requests == 200
    assert Counter.objects.get(name="requests").value == 200


def test_a_failed_flush_keeps_the_successes_for_the_next(rows, monkeypatch):
    buffer = SuccessBuffer(interval_s=3600)
    buffer.add(("groq", "k1", 10.0, NOW))
    monkeypatch.setattr(
        "llmfallback.health.store.successes_write",
        lambda s: (_ for _ in ()).throw(OSError("db down")),
    )
    with pytest.raises(OSError):
        buffer.flush()
    monkeypatch.undo()
    buffer.flush()

    assert ProviderHealth.objects.get(name="groq").total_requests == 1


def test_a_buffered_success_never_erases_failures_recorded_after_it(rows):
    from llmfallback.core.errors import Unavailable
    from llmfallback.core.ports import Failure
    from llmfallback.health.store import OrmHealthStore

    store = OrmHealthStore(success_flush_s=3600)  # successes wait in the buffer
    store.record_success("groq", "k1", latency_ms=5.0, now=NOW)
    failure = Failure("groq", "k1", Unavailable("503"), 1.0, NOW + 20, "provider", episode=True)
    store.record_failure(failure, now=NOW + 1)  # the provider failed after that success
    store.successes.flush()
    groq = ProviderHealth.objects.get(name="groq")
    assert groq.consecutive_failures == 4
    assert groq.cooldown_episodes == 1
    assert KeyHealth.objects.get(provider=groq).consecutive_failures == 4


def test_a_buffered_success_after_the_last_failure_resets_the_counts(rows):
    from llmfallback.core.errors import Unavailable
    from llmfallback.core.ports import Failure
    from llmfallback.health.store import OrmHealthStore

    store = OrmHealthStore(success_flush_s=3600)
    failure = Failure("groq", "k1", Unavailable("503"), 1.0, NOW + 20, "provider", episode=True)
    store.record_failure(failure, now=NOW)
    store.record_success("groq", "k1", latency_ms=5.0, now=NOW + 30)
    store.successes.flush()
    groq = ProviderHealth.objects.get(name="groq")
    assert (groq.consecutive_failures, groq.cooldown_episodes) == (0, 0)
