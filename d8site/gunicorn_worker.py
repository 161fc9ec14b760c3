"""gunicorn's gthread worker, made for a thousand agents waiting on slow providers at once.

- **A thread only for a whole request.** The main thread reads each request (head and body, up
  to intake.BODY_PREREAD_MAX) without blocking, and hands it to a thread only once it is all
  there. A client that sends slowly, or nothing, holds no thread: it is closed after
  WEB_READ_TIMEOUT_S, and an address with WEB_SLOW_PER_ADDRESS connections still sending is
  refused more. gthread's own threads read the head themselves, with no time limit: 64 clients
  sending half a request stopped the service (issue 24).
- **A bounded, visible queue.** Whole requests wait for a thread in a queue of at most
  WEB_QUEUE; past it they get 503 with Retry-After at once. One that waited past
  WEB_QUEUE_WAIT_S gets 503 from its thread; one whose client has gone is closed unanswered.
  Neither reaches a provider. web_stats counts all of it for /metrics and the dashboard.
- **Busy workers leave new connections to idle ones.** On the listening socket the workers
  share, whichever wakes first takes a burst: wrk's 64 connections split 64/0 or 11/53, and
  the busy worker's requests shared one core (the GIL) while the other idled. Past
  WEB_ACCEPT_SOFT requests of its own, a worker takes a new connection only when it has waited
  ACCEPT_GRACE_S in the socket's backlog (no other worker took it). Kept-alive connections stay
  with their worker.
- **A connection's socket is never switched between blocking and not** (d8site/agent_socket.py):
  its timeouts are kept in Python, so gthread's mode changes cost no ioctl and a send no poll,
  and an answer's head goes out with its body in one send.

Built on gunicorn's ThreadWorker (27.x): `accept(listener)`, `enqueue_req(conn)`,
`finish_request(conn, fs)`, `on_client_socket_readable(conn, client)`, `handle(conn)`,
`handle_request(req, conn)`, `murder_keepalived()` and `wait_for_and_dispatch_events(timeout)`.
A gunicorn whose methods differ fails at start (`check`), not silently.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import inspect
import os
import select
import selectors
import socket
import threading
import time
from functools import partial

from gunicorn.workers.gthread import TConn, ThreadWorker

from d8site import intake, relay, relay_wsgi, serving
from d8site.agent_socket import AgentSocket
from d8site.web_stats import STATS

NEEDED = {
    "accept": ["self", "listener"],
    "enqueue_req": ["self", "conn"],
    "finish_request": ["self", "conn", "fs"],
    "on_client_socket_readable": ["self", "conn", "client"],
    "handle": ["self", "conn"],
    "handle_request": ["self", "req", "conn"],
    "murder_keepalived": ["self", "force"],
    "wait_for_and_dispatch_events": ["self", "timeout"],
    "set_accept_enabled": ["self", "enabled"],
    "load_wsgi": ["self"],
}
ACCEPT_GRACE_S = 0.005
_GONE = select.POLLRDHUP | select.POLLHUP | select.POLLERR


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


class CapacityWorker(ThreadWorker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.limits = serving.Limits.from_env(os.environ)
        self.busy = 0  # requests handed to the thread pool and not finished (running + queued)
        self.reading: collections.OrderedDict[TConn, float] = collections.OrderedDict()
        self.senders = intake.SlowSenders(self.limits.slow_per_address)
        self.waiting_since: float | None = None  # when the listener was first seen waiting
        self.stats = None
        self.stats_lock = threading.Lock()

    def init_process(self):
        self.stats = STATS.claim(os.getpid())
        super().init_process()

    def load_wsgi(self):
        super().load_wsgi()
        if self.limits.stream_relay:
            hooks = getattr(self.wsgi, "relay_hooks", {})  # d8site/wsgi.py's
            loop = relay.RelayLoop(gauge=partial(self.stats.set, "relayed"), **hooks)
            loop.start()
            self.wsgi = relay_wsgi.relaying(self.wsgi, loop)

    # --- accepting ---------------------------------------------------------------------

    def set_accept_enabled(self, enabled):
        # run() asks after every event, with only worker_connections in mind.
        super().set_accept_enabled(enabled and self.busy < self.limits.accept_soft)

    def accept(self, listener):
        if self.cfg.is_ssl:  # the TLS handshake is the thread's: gthread's own way
            super().accept(listener)
            return False
        try:
            sock, address = AgentSocket.accept_from(listener)
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return False
        host = _host(address)
        if not self.senders.admit(host):
            self._count("refused_address_limit")
            sock.close()
            return True
        self.nr_conns += 1
        conn = TConn(self.cfg, sock, address, listener.getsockname())
        conn.d8_host = host
        self._start_reading(conn)
        return True

    def wait_for_and_dispatch_events(self, timeout):
        if not self._accepting and self.alive:
            timeout = min(timeout, ACCEPT_GRACE_S)
        super().wait_for_and_dispatch_events(timeout)
        if not self._accepting and self.alive:
            self._accept_the_left_over()

    def _accept_the_left_over(self):
        """Connections no other worker took within ACCEPT_GRACE_S: this worker's, queued."""
        if self.nr_conns >= self.worker_connections:
            return
        ready = select.select(self.sockets, [], [], 0)[0]
        now = time.monotonic()
        if not ready:
            self.waiting_since = None
        elif self.waiting_since is None:
            self.waiting_since = now
        elif now - self.waiting_since >= ACCEPT_GRACE_S:
            # As many as its threads can start, or one: a burst taken whole by one worker would
            # wait on its threads while the other worker's stay free.
            room = max(1, self.cfg.threads - self.busy - len(self.reading))
            for listener in ready:
                listener.setblocking(False)
                while room > 0 and self.nr_conns < self.worker_connections:
                    if not self.accept(listener):
                        break
                    room -= 1
            self.waiting_since = None

    # --- reading a request in the main thread ------------------------------------------

    def _start_reading(self, conn):
        conn.sock.setblocking(False)
        conn.d8_buf = bytearray()
        now = time.monotonic()
        self.reading[conn] = now + self.limits.read_timeout_s
        self.senders.start(conn, conn.d8_host, now)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))

    def on_client_socket_readable(self, conn, client):
        """A kept-alive connection's next request: read like a new one (over TLS, gthread's way)."""
        if self.cfg.is_ssl:
            return super().on_client_socket_readable(conn, client)
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._start_reading(conn)
        self._on_readable(conn, client)

    def _on_readable(self, conn, _client):
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            return self._stop_reading(conn, close=True)
        conn.d8_buf += data
        state = intake.request_state(conn.d8_buf)
        if state == intake.MORE:
            return
        self._stop_reading(conn, close=state == intake.TOO_LARGE)
        if state == intake.READY:
            self._admit(conn)

    def _stop_reading(self, conn, *, close: bool):
        self.poller.unregister(conn.sock)
        del self.reading[conn]
        self.senders.done(conn)
        if close:
            self._close(conn)

    def _admit(self, conn):
        """A whole request: to a thread, to the queue, or 503 when the queue is full."""
        conn.d8_arrived = time.monotonic()
        if self.busy >= self.cfg.threads + self.limits.queue:
            self._count("shed_queue_full")
            self._answer_overloaded(conn, "queue_full")
            return self._close(conn)
        conn.data_ready = True
        self.enqueue_req(conn)

    def _answer_overloaded(self, conn, reason: str):
        try:  # a few hundred bytes on a fresh socket: the send buffer takes them whole
            conn.sock.send(intake.overloaded_response(reason, self.limits.retry_after_s))
        except OSError:
            pass

    def _close(self, conn):
        self.nr_conns -= 1
        conn.close()

    def murder_keepalived(self, force=False):
        super().murder_keepalived(force)
        now = time.monotonic()
        self.senders.sweep(now)
        while self.reading:
            conn, deadline = next(iter(self.reading.items()))
            if deadline > now and not force:
                break
            self._count("read_timeouts")
            self._stop_reading(conn, close=True)

    # --- the thread pool -----------------------------------------------------------------

    def enqueue_req(self, conn):
        self.busy += 1
        self._publish()
        super().enqueue_req(conn)
        if self.busy >= self.limits.accept_soft:
            self.set_accept_enabled(False)

    def finish_request(self, conn, fs):
        self.busy -= 1
        self._publish()
        super().finish_request(conn, fs)

    def _publish(self):
        threads = self.cfg.threads
        self.stats.set("in_flight", min(self.busy, threads))
        self.stats.set("queued", max(0, self.busy - threads))

    def handle(self, conn):
        """In a thread: the request's bytes to gunicorn's parser, unless it is too late."""
        if getattr(conn, "d8_buf", None) is None:  # pipelined: already in the parser
            return super().handle(conn)
        waited = time.monotonic() - conn.d8_arrived
        if _client_gone(conn.sock):
            self._count("dropped_client_gone")
            return False
        if waited > self.limits.queue_wait_s:
            self._count("shed_queue_timeout")
            self._answer_overloaded(conn, "queue_timeout")
            return False
        conn.init()
        conn.parser.unreader.unread(bytes(conn.d8_buf))
        conn.d8_buf = None
        return super().handle(conn)

    def handle_request(self, req, conn):
        # The rest of a chunked or large body, and the answer, each send and read bounded.
        conn.sock.settimeout(self.limits.read_timeout_s * 6)
        if not isinstance(conn.sock, AgentSocket):  # over TLS: gthread's own way
            return super().handle_request(req, conn)
        conn.sock.hold_next()  # the answer's head goes out with its body, in one send
        try:
            keep_alive = super().handle_request(req, conn)
        except BaseException:
            with contextlib.suppress(OSError):  # the error that ended the answer is the one told
                conn.sock.let_go()
            raise
        conn.sock.let_go()
        return keep_alive

    def _count(self, name: str):
        with self.stats_lock:
            self.stats.add(name)


def _host(address) -> str:
    return address[0] if isinstance(address, tuple) else "unix"


def _client_gone(sock: socket.socket) -> bool:
    """Whether the client has closed its end (or reset it), even with its request unread."""
    poller = select.poll()
    poller.register(sock, select.POLLIN | select.POLLRDHUP)
    return any(events & _GONE for _, events in poller.poll(0))
