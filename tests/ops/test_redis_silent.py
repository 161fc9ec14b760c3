"""A Redis that accepts connections but never answers costs each worker at most one short wait
a second, never one per chat request (issue 24, item 10): short socket timeouts on every Redis
client of the chat path, and a failure remembered by ops/shared_cache.Breaker."""

import signal
import socket
import threading
import time

import pytest
import redis
from redis.connection import parse_url

from d8site.settings_stores import Q_REDIS_TIMEOUT_S, q_cluster, redis_cache
from llmfallback import services
from llmfallback.access import counters
from llmfallback.core.types import ChatRequest
from llmfallback.escalation import flag
from llmfallback.models import AgentKey
from llmfallback.ops import cache, shared_cache
from tests.core.fakes import FakeClock

pytestmark = pytest.mark.django_db
HELLO = ChatRequest.from_dicts([{"role": "user", "content": "hello"}])


class SilentRedis:
    """Accepts every connection, reads what is sent, never answers."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"redis://127.0.0.1:{self.sock.getsockname()[1]}/0"
        self.connections, self.held = 0, []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            self.held.append(conn)

    def close(self):
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def silent(settings, monkeypatch):
    settings.REDIS_TIMEOUT_S = 0.2
    server, clock = SilentRedis(), FakeClock()
    monkeypatch.setattr(shared_cache, "CLOCK", clock)  # no sleeps: a clock the test moves
    monkeypatch.setattr(shared_cache, "_breakers", {})
    yield server, clock
    server.close()


def finished_within(seconds, work):
    """(work(), seconds it took); fails instead of hanging (as a client without socket timeouts
    would) when `work` has not finished within `seconds`. In this thread, for the database's
    sake: a timer signal interrupts the wait."""

    def hung(signum, frame):
        raise AssertionError(f"still waiting on Redis after {seconds}s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        return work(), time.monotonic() - started
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_the_production_redis_cache_has_short_socket_timeouts(settings):
    options = redis_cache("redis://127.0.0.1:6379/0", timeout_s=settings.REDIS_TIMEOUT_S)["OPTIONS"]
    assert options["socket_timeout"] == options["socket_connect_timeout"] <= 0.5


def test_the_response_cache_on_a_silent_redis_waits_once_a_second(silent, settings, use_providers):
    server, clock = silent
    settings.CACHES = settings.CACHES | {
        "silent": redis_cache(server.url, timeout_s=settings.REDIS_TIMEOUT_S)
    }
    settings.LLM_CACHE_ALIAS = "silent"
    results, first = finished_within(5, lambda: services.llm_chat(request=HELLO, cache=True))
    assert results.content and first < 1.5
    tried = server.connections
    answers, rest = finished_within(
        5, lambda: [services.llm_chat(request=HELLO, cache=True) for _ in range(5)]
    )
    assert [cache.status(a) for a in answers] == ["miss"] * 5 and all(a.content for a in answers)
    assert server.connections == tried and rest < 1.0  # within the second: not tried again
    clock.advance(1.1)
    finished_within(5, lambda: services.llm_chat(request=HELLO, cache=True))
    assert server.connections > tried  # a second later it is tried again, once


def test_the_escalation_flag_on_a_silent_redis_falls_back_to_the_database(silent, settings):
    server, clock = silent
    settings.CACHES = {"default": redis_cache(server.url, timeout_s=settings.REDIS_TIMEOUT_S)}
    flags = []

    def read_flags():
        for _ in range(5):
            flag._memo = (0.0, None)  # as if each call came a second after the last
            flags.append(flag.open_flag())

    _, took = finished_within(5, read_flags)
    assert flags == [flag.NONE_OPEN] * 5 and server.connections == 1 and took < 1.5


def test_agent_limits_on_a_silent_redis_admit_without_waiting_each_time(silent, settings):
    server, _ = silent
    counter = counters.RedisCounter(server.url)
    agent = AgentKey.objects.create(name="a", prefix="d8_x", key_hash="f" * 64, rpm_limit=1)

    def admit_many():
        return [counter.admit(agent, time.time()) for _ in range(5)]

    admitted, took = finished_within(5, admit_many)
    assert admitted == [None] * 5  # let through, as documented, and logged
    assert server.connections == 1 and took < 1.5


def test_the_task_queues_redis_has_socket_timeouts_and_keeps_the_urls_own():
    kwargs = parse_url(q_cluster("redis://:pw@10.0.0.5:6380/3", workers=1, sync=False)["redis"])
    assert kwargs["socket_timeout"] == kwargs["socket_connect_timeout"] == Q_REDIS_TIMEOUT_S
    assert (kwargs["host"], kwargs["port"], kwargs["db"], kwargs["password"]) == (
        "10.0.0.5",
        6380,
        3,
        "pw",
    )
    assert Q_REDIS_TIMEOUT_S > 1  # longer than django-q2's own 1 s wait for a task (BLPOP)
    own = q_cluster("redis://h/0?socket_timeout=30", workers=1, sync=False)["redis"]
    assert parse_url(own)["socket_timeout"] == 30


def test_queueing_a_task_on_a_silent_redis_fails_instead_of_hanging():
    server = SilentRedis()
    try:
        url = q_cluster(server.url, workers=1, sync=False, redis_timeout_s=0.2)["redis"]
        broker = redis.from_url(url)  # as django-q2's Redis broker connects (get_connection)
        with pytest.raises(redis.exceptions.TimeoutError):
            finished_within(5, lambda: broker.rpush("django_q:d8:q", b"task"))
    finally:
        server.close()
