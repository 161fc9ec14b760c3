"""A gunicorn worker that drains on SIGTERM: not ready at once, its listening socket closed at
once, and every connection it already holds answered.

gunicorn 27's gthread worker, told to stop, only stops polling its listening socket and keeps it
open until its last request has finished: a host being stopped went on completing handshakes
for 27 s, and the connections queued meanwhile were never answered (reset at the very end),
while the load balancer waited for its checks to time out (issue 25). Here, at SIGTERM, the
worker says "not ready" (d8site/probes.py), takes every connection the kernel has already
queued on its listening sockets (each gets its answer, with `Connection: close`), and closes
them; the master closes its own copy at the same time, so once every worker has done so the
port refuses new connections and a balancer or client tries the next host at once. The
requests and streams in flight then finish within WEB_GRACEFUL_TIMEOUT, which by default
covers the longest a request may live (see check_graceful_timeout).

Installed by d8site/gunicorn.conf.py's post_worker_init hook, whatever the worker class (it
needs gthread's `sockets`, `set_accept_enabled` and `accept`).
"""

from __future__ import annotations

import logging
import signal
import threading

from d8site.env import env_float

log = logging.getLogger(__name__)

# LLM_STREAM_MAX_S (300) + LLM_STREAM_STALL_S (30), the longest a stream can live with the
# defaults, plus 10 s for the stream's last write and the worker's own exit.
GRACEFUL_TIMEOUT_DEFAULT_S = 340.0
MARGIN_S = 10.0

_draining = threading.Event()
# What listeners_drain uses of gunicorn's gthread worker (and ours, built on it). Another
# worker class still fails readiness at SIGTERM, and stops as gunicorn stops it.
GTHREAD = ("sockets", "set_accept_enabled", "accept", "nr_conns")


def graceful_timeout_s() -> float:
    """WEB_GRACEFUL_TIMEOUT: how long a stopping worker may take to finish what it holds."""
    return env_float("WEB_GRACEFUL_TIMEOUT", GRACEFUL_TIMEOUT_DEFAULT_S)


def draining() -> bool:
    """Whether this process has been told to stop (its readiness then fails)."""
    return _draining.is_set()


def drain_start() -> None:
    _draining.set()


def install(worker) -> None:
    """Make SIGTERM drain `worker` before gunicorn's own handler lets its loop end."""
    stop = signal.getsignal(signal.SIGTERM)

    takes_queue = all(hasattr(worker, name) for name in GTHREAD)

    def on_sigterm(signum, frame):
        drain_start()
        if takes_queue:
            listeners_drain(worker)
        if callable(stop):
            stop(signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)
    # Not interrupting a system call, as gunicorn's own handlers are installed.
    signal.siginterrupt(signal.SIGTERM, False)
    from django.conf import settings

    # Not for a bare WSGI app served with this config (bench/passthrough.py's own Django).
    if settings.configured and hasattr(settings, "LLM_STREAM_MAX_S"):
        check_graceful_timeout(worker.cfg.graceful_timeout, worker.log)


def listeners_drain(worker) -> int:
    """Stop polling the listening sockets, accept what is queued on them, close them; how many
    connections were taken. Runs on the worker's main thread (a signal handler), as its poller."""
    if not worker.sockets:
        return 0
    worker.set_accept_enabled(False)
    taken = 0
    for listener in worker.sockets:
        listener.setblocking(False)
        while True:
            before = worker.nr_conns
            # True/False: ours says whether it took one (maybe to refuse it); gthread's says
            # nothing, and counts the connection it took.
            took = worker.accept(listener)
            if took is False or (took is None and worker.nr_conns == before):
                break
            taken += 1
        listener.close()
    worker.sockets = []
    worker.log.info("Draining: listening sockets closed, %d queued connection(s) taken", taken)
    return taken


def longest_request_s() -> float:
    """The longest a request may live: the chat deadline, or a whole stream and its last stall."""
    from django.conf import settings

    stream = settings.LLM_STREAM_MAX_S + settings.LLM_STREAM_STALL_S
    return max(settings.LLM_DEADLINE_S, stream)


def check_graceful_timeout(graceful: float, logger=log) -> bool:
    """Warn when a stop could cut requests short: the graceful time below their longest life."""
    longest = longest_request_s()
    if graceful >= longest:
        return True
    logger.warning(
        "WEB_GRACEFUL_TIMEOUT is %.0f s, below the longest a request may live (%.0f s: "
        "LLM_DEADLINE_S, LLM_STREAM_MAX_S + LLM_STREAM_STALL_S): a stop may cut streams short",
        graceful,
        longest,
    )
    return False
