"""gunicorn's gthread worker, accepting new connections only while it has a thread free.

gthread's main thread accepts every connection it is offered and queues the requests behind its
busy threads. On one listening socket shared by the workers, whichever worker woke first took a
burst of new connections: wrk's 64 split 64/0, 11/53 or 26/38 between two workers (`ss`,
bench/run c=64), and the busy one's requests waited on its threads, and on its one core (the
GIL), while the other worker idled. Here a worker stops listening while every thread is taken,
so the kernel hands the next connection to a worker that can start it; the others wait in the
socket's backlog, as they would have waited in the busy worker's queue, and survive its death
there (the crash drill's rule). Kept-alive connections stay with their worker as before.

Built on four parts of gunicorn's ThreadWorker (27.x): `enqueue_req(conn)` and
`finish_request(conn, fs)`, both on the worker's main thread, `set_accept_enabled(enabled)`, and
`run()` calling it after every event with whether the worker is under `worker_connections`. A
gunicorn whose three methods differ fails at start (`check`), not silently; one whose `run()`
stops asking fails tests/ops/test_gunicorn_accepting.py (connections would wait for ever).
"""

from __future__ import annotations

import inspect

from gunicorn.workers.gthread import ThreadWorker

NEEDED = {
    "enqueue_req": ["self", "conn"],
    "finish_request": ["self", "conn", "fs"],
    "set_accept_enabled": ["self", "enabled"],
}


def check(cls=ThreadWorker) -> None:
    """Refuse a gunicorn whose gthread worker no longer has what this one is built on."""
    for name, params in NEEDED.items():
        method = getattr(cls, name, None)
        if method is None or list(inspect.signature(method).parameters) != params:
            raise RuntimeError(
                f"gunicorn's gthread worker has changed ({name}); d8site.gunicorn_worker needs "
                "gunicorn 27.x, or WEB_WORKER_CLASS=gthread"
            )


check()


class ThreadWorkerAcceptingWhenFree(ThreadWorker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.busy = 0  # connections handed to the thread pool and not yet finished

    def enqueue_req(self, conn):
        self.busy += 1
        super().enqueue_req(conn)
        if self.busy >= self.cfg.threads:
            self.set_accept_enabled(False)

    def finish_request(self, conn, fs):
        self.busy -= 1
        super().finish_request(conn, fs)

    def set_accept_enabled(self, enabled):
        # run() asks again after every event, with only worker_connections in mind.
        super().set_accept_enabled(enabled and self.busy < self.cfg.threads)
