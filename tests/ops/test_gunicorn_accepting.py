"""A worker accepts new connections only while it has a thread free (d8site/gunicorn_worker.py),
so on the workers' one shared socket a burst of connections is split among the workers by their
free threads, not taken by whichever woke first; and it accepts again once a thread frees."""

from __future__ import annotations

import collections
import http.client
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from d8site import gunicorn_worker
from tests.net import free_port
from tests.ops.gunicorn_run import booted, eventually, launch, stop

pytestmark = [pytest.mark.multiprocess, pytest.mark.database("sqlite")]

WORKERS, THREADS = 2, 4
SHARED = {"WEB_REUSE_PORT": "0", "WEB_THREADS": str(THREADS)}  # one socket, whatever the kernel


def ask(sock: socket.socket, port: int, path: str = "/") -> bytes:
    """One GET on an open connection; the pid of the worker that answered."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.sock = sock
    conn.request("GET", path)
    return conn.getresponse().read().split()[1]


def burst(port: int, connections: int) -> collections.Counter:
    """Open `connections` at once, let the workers accept them, then ask once on each."""
    opened = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(connections)]
    try:
        # Each accepted one holds a thread that waits for its request (none is sent yet).
        deadline = time.monotonic() + 10
        while accepted(port) < connections:
            assert time.monotonic() < deadline, f"{accepted(port)} of {connections} accepted"
            time.sleep(0.01)
        return collections.Counter(ask(sock, port) for sock in opened)
    finally:
        for sock in opened:
            sock.close()


def accepted(port: int) -> int:
    """Connections to `port` a process has accepted (those still in the backlog have none)."""
    out = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sum("pid=" in line for line in out.splitlines())


@pytest.fixture
def server(env, tmp_path):
    port, log = free_port(), tmp_path / "gunicorn.log"
    proc = launch(env | SHARED, f"127.0.0.1:{port}", log, workers=WORKERS)
    try:
        booted(proc, log, WORKERS)
        eventually(lambda: _answering(port), proc, log)
        yield port
    finally:
        stop(proc)


def _answering(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            return bool(ask(sock, port))
    except OSError:
        return False


def test_a_burst_of_connections_is_split_by_the_workers_free_threads(server):
    for _ in range(3):
        workers = burst(server, WORKERS * THREADS)
        # gunicorn's own gthread split them 8/0, 7/1 or 6/2 here, whichever worker woke first.
        assert sorted(workers.values()) == [THREADS] * WORKERS, workers


def test_with_every_thread_busy_connections_wait_and_are_all_served(server):
    calls = WORKERS * THREADS * 2  # twice what the threads can hold at once

    def slow(_):
        with socket.create_connection(("127.0.0.1", server), timeout=30) as sock:
            return ask(sock, server, "/?wait=0.3")

    started = time.monotonic()
    with ThreadPoolExecutor(calls) as pool:
        served = list(pool.map(slow, range(calls)))
    assert len(served) == calls and all(served)
    assert len(set(served)) == WORKERS
    # Two rounds of 0.3 s: the second half waited for threads, no longer than that.
    assert time.monotonic() - started < 5


def test_a_gunicorn_without_what_the_worker_is_built_on_is_refused():
    class Changed:
        def enqueue_req(self, conn): ...
        def finish_request(self, conn, fs): ...
        def set_accept_enabled(self, enabled, now): ...

    with pytest.raises(RuntimeError, match="set_accept_enabled"):
        gunicorn_worker.check(Changed)
    del Changed.finish_request
    with pytest.raises(RuntimeError, match="finish_request"):
        gunicorn_worker.check(Changed)
    gunicorn_worker.check()  # the gunicorn installed here has them
