"""A worker accepts new connections only while it has a thread free (d8site/gunicorn_worker.py),
so on the workers' one shared socket a burst of connections is split among the workers by their
free threads, not taken by whichever woke first; and it accepts again once a thread frees."""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from d8site import gunicorn_worker
from tests.net import free_port
from tests.ops.gunicorn_run import answering, ask, booted, eventually, launch, served_by, stop

pytestmark = [pytest.mark.multiprocess, pytest.mark.database("sqlite")]

WORKERS, THREADS = 2, 4
SHARED = {"WEB_REUSE_PORT": "0", "WEB_THREADS": str(THREADS)}  # one socket, whatever the kernel


@pytest.fixture
def server(env, tmp_path):
    port, log = free_port(), tmp_path / "gunicorn.log"
    proc = launch(env | SHARED, f"127.0.0.1:{port}", log, workers=WORKERS)
    try:
        booted(proc, log, WORKERS)
        eventually(lambda: answering(port), proc, log)
        yield port
    finally:
        stop(proc)


def test_a_burst_of_connections_is_split_by_the_workers_free_threads(server):
    for _ in range(3):
        workers = served_by(server, WORKERS * THREADS)
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
