"""The limiter on its own, with an injected clock: the database counter and the Redis one."""

import pytest
import redis

from llmfallback.access import agent_keys, counters, limits
from llmfallback.access.counters import DbCounter, RedisCounter
from llmfallback.access.limits import LimitExceeded
from tests.conftest import REDIS_URL

T0 = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC, the start of a minute
pytestmark = pytest.mark.django_db


@pytest.fixture(params=["db", "redis"])
def counter(request, monkeypatch):
    if request.param == "redis":
        c = RedisCounter(REDIS_URL)
        try:
            c.redis.ping()
        except redis.RedisError as e:
            pytest.fail(f"Redis is not reachable at {REDIS_URL}: {e}")
    else:
        c = DbCounter()
    monkeypatch.setattr(counters, "counter_for", lambda: c)
    return c


def key(**limits_):
    agent, _ = agent_keys.agent_key_create(name="limited")
    for field, value in limits_.items():
        setattr(agent, field, value)
    agent.save()
    return agent


def fresh(agent):
    agent.refresh_from_db()
    return limits.usage(agent, now=T0)


def test_requests_over_the_minute_limit_are_refused_until_the_next_minute(counter):
    agent = key(rpm_limit=2)
    limits.request_admit(agent, now=T0)
    limits.request_admit(agent, now=T0 + 10)
    with pytest.raises(LimitExceeded) as over:
        limits.request_admit(agent, now=T0 + 15)
    assert over.value.kind == "requests"
    assert over.value.retry_after == pytest.approx(45)
    limits.request_admit(agent, now=T0 + 60)  # a new minute


def test_a_refused_request_counts_in_the_total_but_never_in_the_minute(counter):
    agent = key(rpm_limit=1)
    limits.request_admit(agent, now=T0)
    for _ in range(3):
        with pytest.raises(LimitExceeded):
            limits.request_admit(agent, now=T0 + 1)
    assert fresh(agent).requests_this_minute == 1
    assert fresh(agent).requests_total == 4  # every request, whatever its outcome (issue 24)


def test_tokens_over_the_day_refuse_the_next_request_until_utc_midnight(counter):
    agent = key(tokens_per_day=100)
    limits.request_admit(agent, now=T0)
    limits.tokens_add(agent, 60, now=T0)
    limits.request_admit(agent, now=T0 + 1)  # 60 < 100: still admitted
    limits.tokens_add(agent, 60, now=T0 + 1)  # the call in flight takes it over: 120
    with pytest.raises(LimitExceeded) as over:
        limits.request_admit(agent, now=T0 + 2)
    assert over.value.kind == "tokens"
    assert over.value.retry_after == pytest.approx(16 * 3600 - 2)  # 08:00:02 -> 24:00
    limits.request_admit(agent, now=T0 + 16 * 3600)  # the next UTC day


def test_zero_blocks_the_key(counter):
    with pytest.raises(LimitExceeded):
        limits.request_admit(key(rpm_limit=0), now=T0)


def test_usage_counts_requests_and_tokens_of_a_key_without_limits(counter):
    agent = key()
    limits.request_admit(agent, now=T0)
    limits.tokens_add(agent, 7, now=T0)
    limits.tokens_add(agent, 5, now=T0 + 1)
    used = fresh(agent)
    assert (used.requests_this_minute, used.tokens_today) == (2, 12)
    assert (used.requests_total, used.tokens_total) == (2, 12)


def test_a_worker_with_a_lagging_clock_does_not_restart_the_database_minute(monkeypatch):
    # Redis keys are named by each worker's minute: there, clocks must agree (NTP).
    monkeypatch.setattr(counters, "counter_for", DbCounter)
    agent = key(rpm_limit=2)
    limits.request_admit(agent, now=T0 + 60)
    limits.request_admit(agent, now=T0 + 59)  # another machine, a second behind
    with pytest.raises(LimitExceeded):
        limits.request_admit(agent, now=T0 + 61)


def test_no_limits_for_callers_that_are_not_agent_keys(counter):
    limits.request_admit(object(), now=T0)
    limits.tokens_add(None, 10, now=T0)
    assert limits.allowed_providers(object()) is None


def test_redis_down_admits_and_says_so(caplog, monkeypatch, db):
    c = RedisCounter("redis://127.0.0.1:1/0")
    monkeypatch.setattr(counters, "counter_for", lambda: c)
    limits.request_admit(key(rpm_limit=1), now=T0)
    assert "Redis unreachable" in caplog.text


# --- Usage that decides nothing at once is buffered (a key without a token limit) ------------


@pytest.fixture
def buffered(settings):
    settings.LLM_SUCCESS_FLUSH_S = 3600.0  # only an explicit flush writes
    counters._buffers.clear()
    yield counters.usage_buffer()
    counters._buffers.clear()


def test_a_key_without_limits_has_its_usage_written_together_on_flush(counter, buffered):
    agent = key()
    for i in range(5):
        limits.request_admit(agent, now=T0 + i)
        limits.tokens_add(agent, 10, now=T0 + i)
    limits.tokens_add(agent, 3, now=T0 + 61)  # the next minute

    assert fresh(agent).requests_total == 0  # nothing written yet
    buffered.flush()

    used = limits.usage(_reloaded(agent), now=T0 + 61)
    assert (used.requests_total, used.tokens_total, used.tokens_today) == (6, 53, 53)
    assert used.requests_this_minute == 1  # the minute's count starts afresh, as unbuffered


def test_a_key_with_a_daily_token_limit_counts_its_tokens_at_once(counter, buffered):
    agent = key(tokens_per_day=100)
    limits.request_admit(agent, now=T0)
    limits.tokens_add(agent, 120, now=T0)
    with pytest.raises(limits.LimitExceeded):  # refused with nothing flushed
        limits.request_admit(agent, now=T0 + 1)


def test_a_key_with_only_a_request_limit_buffers_its_tokens_not_its_requests(counter, buffered):
    agent = key(rpm_limit=2)
    limits.request_admit(agent, now=T0)
    limits.tokens_add(agent, 9, now=T0)
    limits.request_admit(agent, now=T0 + 1)
    with pytest.raises(limits.LimitExceeded):  # admissions are never buffered
        limits.request_admit(agent, now=T0 + 2)
    buffered.flush()
    # the refused one counts in the total too (issue 24): every request, whatever its outcome
    assert (fresh(agent).requests_total, fresh(agent).tokens_total) == (3, 9)


def _reloaded(agent):
    agent.refresh_from_db()
    return agent
