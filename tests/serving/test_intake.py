"""The worker's main thread: when a request has arrived whole, which addresses are sending
slowly, and the 503 past capacity (d8site/intake.py)."""

from __future__ import annotations

import json

import pytest

from d8site import intake
from d8site.serving import Limits

HEAD = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n"


@pytest.mark.parametrize(
    ("buf", "state"),
    [
        (b"", intake.MORE),
        (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n", intake.MORE),
        (HEAD, intake.MORE),
        (HEAD + b'{"a": 1}', intake.MORE),
        (HEAD + b'{"a": 1234}', intake.READY),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", intake.READY),
        (b"POST / HTTP/1.1\r\ncOnTeNt-LeNgTh:  3\r\n\r\nabc", intake.READY),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", intake.READY),
        (b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 9\r\n\r\n", intake.READY),
        (b"POST / HTTP/1.1\r\nContent-Length: x1\r\n\r\n", intake.READY),
        (b"POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", intake.READY),
        (b"GET / HTTP/1.1\r\nX: " + b"a" * (intake.HEAD_MAX + 1), intake.TOO_LARGE),
    ],
)
def test_it_knows_when_a_request_has_arrived_whole(buf, state):
    assert intake.request_state(buf) == state


def test_an_address_is_refused_once_it_has_too_many_slow_senders():
    senders = intake.SlowSenders(limit=2, grace_s=1.0)
    for n in range(5):  # five connections at once, none finished yet: not slow yet
        assert senders.admit("10.0.0.1")
        senders.start(("slow", n), "10.0.0.1", now=0.0)
    senders.sweep(now=0.5)
    assert senders.admit("10.0.0.1")
    senders.sweep(now=1.0)
    assert not senders.admit("10.0.0.1")
    assert senders.admit("10.0.0.2")  # another client is not punished
    for n in range(4):
        senders.done(("slow", n))
    assert senders.admit("10.0.0.1")
    senders.done(("slow", 4))
    assert senders.slow == {}


def test_a_request_finished_within_the_grace_is_never_counted():
    senders = intake.SlowSenders(limit=1, grace_s=1.0)
    for n in range(100):
        senders.start(n, "10.0.0.1", now=0.0)
        senders.done(n)
    senders.sweep(now=5.0)
    assert senders.admit("10.0.0.1")


def test_no_limit_admits_everyone():
    senders = intake.SlowSenders(limit=0)
    senders.start(1, "a", now=0.0)
    senders.sweep(now=10.0)
    assert senders.admit("a")


@pytest.mark.parametrize("reason", ["queue_full", "queue_timeout"])
def test_overload_is_a_503_with_retry_after_in_openais_envelope(reason):
    raw = intake.overloaded_response(reason, 5)
    head, body = raw.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 503 ")
    assert b"\r\nRetry-After: 5" in head and b"\r\nConnection: close" in head
    assert f"Content-Length: {len(body)}".encode() in head
    assert json.loads(body)["error"]["code"] == reason


def test_limits_come_from_the_environment_and_bad_values_are_named():
    limits = Limits.from_env({"WEB_THREADS": "64", "WEB_QUEUE": "0", "WEB_QUEUE_WAIT_S": "2.5"})
    assert (limits.threads, limits.queue, limits.queue_wait_s) == (64, 0, 2.5)
    assert Limits.from_env({}) == Limits()
    with pytest.raises(ValueError, match="WEB_QUEUE_WAIT_S"):
        Limits.from_env({"WEB_QUEUE_WAIT_S": "soon"})
    with pytest.raises(ValueError, match="WEB_QUEUE must not be negative"):
        Limits.from_env({"WEB_QUEUE": "-1"})


def test_the_switch_interval_is_50_ms_unless_set():
    assert Limits.from_env({}).switch_interval_s == 0.05
    assert Limits.from_env({"WEB_SWITCH_INTERVAL_S": "0.005"}).switch_interval_s == 0.005
    assert Limits.from_env({"WEB_SWITCH_INTERVAL_S": "0"}).switch_interval_s == 0.05
    with pytest.raises(ValueError, match="WEB_SWITCH_INTERVAL_S"):
        Limits.from_env({"WEB_SWITCH_INTERVAL_S": "fast"})
