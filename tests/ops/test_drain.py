"""SIGTERM drains (d8site/drain.py): the port refuses new connections at once, every connection
already made is answered, in-flight requests finish, and under load nothing waits unanswered.

Before, gunicorn kept its listening socket open until its last request finished: a stopping
host completed handshakes for 27 s and never answered them (issue 25)."""

from __future__ import annotations

import http.client
import signal
import socket
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.net import free_port
from tests.ops.gunicorn_run import accepted, answering, booted, eventually, launch, stop

pytestmark = [pytest.mark.multiprocess, pytest.mark.database("sqlite")]

WORKERS, THREADS = 2, 2
HELD_S = 1.5  # how long each in-flight request holds its thread


@pytest.fixture(params=["0", "1"], ids=["one shared socket", "a socket per worker"])
def reuse_port(request):
    return request.param


def start(env, tmp_path, port, reuse_port):
    log = tmp_path / "gunicorn.log"
    env = env | {"WEB_THREADS": str(THREADS), "WEB_GRACEFUL_TIMEOUT": "30"}
    env |= {"WEB_REUSE_PORT": reuse_port}
    proc = launch(env, f"127.0.0.1:{port}", log, workers=WORKERS)
    booted(proc, log, WORKERS)
    eventually(lambda: answering(port), proc, log)
    return proc, log


def get(port: int, path: str, timeout: float = 10.0, conn=None) -> tuple[str, object]:
    """One GET on a new connection (or `conn`): ("ok", response) or what went wrong."""
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return "ok", response
    except ConnectionRefusedError:
        return "refused", None
    except TimeoutError:
        return "timeout", None
    except (ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError) as e:
        return "reset", e


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def test_sigterm_closes_the_port_at_once_and_answers_every_connection_it_holds(env, tmp_path):
    """On the shared socket, where the connections beyond the threads wait in one backlog (with
    a socket per worker the kernel's hash decides whose backlog, and the count below with it)."""
    port = free_port()
    proc, log = start(env, tmp_path, port, "0")
    kept = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    assert get(port, "/", conn=kept)[0] == "ok"  # an idle kept-alive connection, as a balancer's
    try:
        held = WORKERS * THREADS + 2  # two more than the threads: they wait in the backlog
        results = [None] * held
        clients = [
            threading.Thread(
                target=lambda i=i: results.__setitem__(i, get(port, f"/?wait={HELD_S}"))
            )
            for i in range(held)
        ]
        for client in clients:
            client.start()
        eventually(lambda: accepted(port) >= WORKERS * THREADS + 1, proc, log)  # + the kept one
        time.sleep(0.2)  # the last two connect and send; the kernel queues them
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        while not refused(port) and time.monotonic() - signalled < 1.0:
            time.sleep(0.01)
        refused_after = time.monotonic() - signalled

        status, response = get(port, "/", conn=kept)  # a request on the idle kept-alive one
        for client in clients:
            client.join()
        assert proc.wait(timeout=20) == 0
    finally:
        stop(proc)
    assert refused_after < 1.0
    assert [r[0] for r in results] == ["ok"] * held, results
    assert {r[1].status for r in results} == {200}
    assert status == "ok" and response.getheader("Connection") == "close"
    assert "queued connection(s) taken" in log.read_text()


def test_under_load_every_connection_is_answered_or_refused_none_waits(env, tmp_path, reuse_port):
    port = free_port()
    proc, log = start(env, tmp_path, port, reuse_port)
    outcomes, stop_at = Counter(), []

    def client():
        while not stop_at or time.monotonic() < stop_at[0]:
            outcomes[get(port, "/?wait=0.02", timeout=5)[0]] += 1

    clients = [threading.Thread(target=client) for _ in range(8)]
    try:
        for c in clients:
            c.start()
        eventually(lambda: outcomes["ok"] >= 50, proc, log)
        proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        while outcomes["refused"] < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        stop_at.append(time.monotonic() + 0.5)
        for c in clients:
            c.join()
        assert proc.wait(timeout=20) == 0
    finally:
        stop_at.append(0)
        stop(proc)
    assert outcomes["timeout"] == 0, outcomes  # none waits
    assert outcomes["ok"] >= 50 and outcomes["refused"] >= 20, outcomes
    if reuse_port == "1" and not _kernel_migrates_queued():
        # A connection that reaches a worker's own socket between its last accept and its close
        # is reset by the kernel unless net.ipv4.tcp_migrate_req=1 (d8site/gunicorn.conf.py,
        # _socket_per_worker: why WEB_REUSE_PORT=auto keeps one shared socket there). CI saw
        # 1 among 10,065 refused on such a machine: rare, answered at once, never a wait.
        assert outcomes["reset"] <= max(1, outcomes["refused"] // 100), outcomes
    else:
        assert outcomes["reset"] == 0, outcomes


def _kernel_migrates_queued() -> bool:
    try:
        return Path("/proc/sys/net/ipv4/tcp_migrate_req").read_text().strip() == "1"
    except OSError:  # not Linux, or before 5.14
        return False


def test_a_graceful_time_below_the_longest_request_is_warned_about(settings, caplog):
    from d8site import drain

    settings.LLM_DEADLINE_S, settings.LLM_STREAM_MAX_S, settings.LLM_STREAM_STALL_S = 60, 300, 30
    assert drain.check_graceful_timeout(drain.GRACEFUL_TIMEOUT_DEFAULT_S) is True
    assert not caplog.records
    assert drain.check_graceful_timeout(30) is False
    assert "below the longest a request may live (330 s" in caplog.text


def test_a_worker_class_without_gthreads_parts_still_fails_readiness_at_sigterm(monkeypatch):
    from d8site import drain

    class SyncWorker:  # gunicorn's sync worker: no poller to take the queue from
        sockets, cfg, log = [], type("Cfg", (), {"graceful_timeout": 340})(), None

    stopped = []
    monkeypatch.setattr(drain, "_draining", threading.Event())
    monkeypatch.setattr(drain.signal, "signal", lambda sig, handler: stopped.append(handler))
    monkeypatch.setattr(
        drain.signal, "getsignal", lambda sig: lambda *a: stopped.append("gunicorn")
    )
    monkeypatch.setattr(drain.signal, "siginterrupt", lambda *a: None)
    monkeypatch.setattr(drain, "check_graceful_timeout", lambda *a: True)
    drain.install(SyncWorker())
    stopped[0](signal.SIGTERM, None)
    assert drain.draining() and stopped[-1] == "gunicorn"
