"""One event loop per worker that relays every stream once its first chunk is out.

A thread per stream woke for every token: poll and recv on the provider's socket, poll and send
on the agent's, each releasing the GIL among hundreds of threads, about twenty futex calls a
token (docs/benchmarks.md, "Where a stream's CPU goes"). Here the request's thread does what
comes before the first chunk (admission, routing, the first attempts, the head), as before, then
hands the rest of the answer to this loop and sleeps until it is done. The loop runs each
stream in a greenlet of its own thread; a stream's reads of its provider (and a new attempt's
connect, TLS and DNS, should it fail over mid-stream) wait through `wait_io`
(llmfallback/providers/cooperative.py), so one thread waits on every stream's sockets at once
and runs a stream's Python only when its bytes have come.

What a stream does between its waits (parsing, framing the agent's chunks) runs on the loop, as
it held the GIL before. Its database and Redis work (a failure's record, the token count, the
escalation hooks) does not: llmfallback/off_loop.py runs it in a few threads while the stream
waits, since a query on the loop stops every stream of the worker. Retry waits yield
(cooperative.sleep). Only responses marked `relay_stream` (llmfallback/http/sse.response) come
here (d8site/relay_wsgi.py hands them over); every other answer runs in its request's thread as
before.
"""

from __future__ import annotations

import collections
import contextlib
import heapq
import itertools
import logging
import math
import os
import select
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterator

import greenlet

logger = logging.getLogger(__name__)
FLUSH_AT = 64 * 1024  # pending bytes for the agent that are sent without waiting for a pause
_EPOLL = {
    selectors.EVENT_READ: select.EPOLLIN,
    selectors.EVENT_WRITE: select.EPOLLOUT,
    selectors.EVENT_READ | selectors.EVENT_WRITE: select.EPOLLIN | select.EPOLLOUT,
}


class AgentGone(BaseException):
    """Raised into a stream's wait for its provider when the agent could not be sent what the
    stream had for it: the stream ends there, through every `finally` (the provider's connection
    closed, the tokens so far charged), as when gunicorn closes a stream whose agent left. Not an
    Exception, so no provider's error handling takes it for the provider's failure."""


class _Stream(greenlet.greenlet):
    """One relayed answer. wait_io is what cooperative.waiter() finds: the stream's code waits
    for its provider through it, and what it has for the agent goes out first."""

    def __init__(self, loop: RelayLoop, job: Job) -> None:
        super().__init__(run=job.pump, parent=loop.hub)
        self.loop, self.job = loop, job
        self.waiting = 0  # which wait of this stream a timer belongs to; 0: not waiting

    def wait_io(self, fileobj, events: int, deadline: float | None) -> bool:
        self.job.before_wait(self.loop.wait)
        return self.loop.wait(fileobj, events, deadline)


class Job:
    """The rest of one answer: its items, the agent's socket, how to frame each item.

    Items made one after another without a wait (tokens that came in one read, under load) go
    to the agent in one send, just before the stream next waits for its provider: one send per
    read instead of one per token. That holds from the first item: the request thread hands a
    stream over only once its first token is out (relay_wsgi.Relayed), and a stream the loop
    reaches late, its provider's whole answer already read, goes out in one send, not sixty.
    """

    def __init__(self, items: Iterator[bytes], sock: socket.socket, *, chunked: bool) -> None:
        self.items = items
        self.sock = sock
        self.chunked = chunked
        self.stall_s = sock.gettimeout()  # how long one send may wait for the agent to read
        self.sent = 0  # body bytes handed to the agent, as gunicorn counts them
        self.error: BaseException | None = None
        self.done = threading.Event()
        self.context = greenlet.getcurrent().gr_context  # the request thread's own
        self._pending = bytearray()  # framed, for the agent, not yet sent
        self._pending_body = 0  # of which body bytes

    def pump(self) -> None:
        """In the loop: every remaining item to the agent; the first error is kept for the
        request's thread to raise, as it would have raised it there."""
        wait = greenlet.getcurrent().loop.wait
        try:
            for item in self.items:
                if item:
                    self._pending += b"%X\r\n%s\r\n" % (len(item), item) if self.chunked else item
                    self._pending_body += len(item)
                    if len(self._pending) >= FLUSH_AT:
                        self._flush(wait)
            self._flush(wait)
        except BaseException as e:  # noqa: BLE001 - handed to the request's thread
            if self.error is None:
                self.error = e
        finally:
            with contextlib.suppress(OSError):
                self.sock.settimeout(self.stall_s)  # gunicorn's own writes follow
            self.done.set()

    def before_wait(self, wait) -> None:
        """Send what is pending before the stream waits for its provider; AgentGone if that
        fails (the agent's own error is what the request's thread raises)."""
        if self._pending:
            try:
                self._flush(wait)
            except Exception as e:
                self.error = e
                raise AgentGone from e

    def _flush(self, wait) -> None:
        data, self._pending = self._pending, bytearray()
        body, self._pending_body = self._pending_body, 0
        if data:
            self._send(wait, data)
            self.sent += body

    def _send(self, wait, data: bytes) -> None:
        view = memoryview(data)
        sock = self.sock
        if sock.gettimeout() != 0.0:
            sock.setblocking(False)
        while view:
            try:
                view = view[sock.send(view) :]
            except BlockingIOError:
                deadline = None if self.stall_s is None else time.monotonic() + self.stall_s
                if not wait(sock, selectors.EVENT_WRITE, deadline):
                    raise TimeoutError("the agent read nothing for too long") from None


class RelayLoop:
    """The loop's thread, started on first use; `run(job)` from any request thread."""

    def __init__(
        self,
        gauge: Callable[[int], None] = lambda n: None,
        on_start: Callable[[], None] = lambda: None,
        after_stream: Callable[[], None] = lambda: None,
        before_wait: Callable[[], None] = lambda: None,
    ) -> None:
        self.hub: greenlet.greenlet | None = None
        self._gauge = gauge  # told how many streams are relayed, at each change
        self._on_start = on_start  # run first in the loop's thread
        self._after_stream = after_stream  # run in the loop's thread after each stream
        # Run in the request's thread before it sleeps for the whole stream: what it holds and
        # the stream does not need goes back (d8site/wsgi.py: its database connection).
        self._before_wait = before_wait
        self._inbox: collections.deque[Job] = collections.deque()
        # Each socket a stream waits on stays registered, one-shot: a wait re-arms it (one
        # epoll_ctl), where a selector's register and unregister cost two and their Python.
        self._epoll = select.epoll()
        self._armed: set[int] = set()  # descriptors registered (closed ones the kernel dropped)
        self._waiters: dict[int, _Stream] = {}  # descriptor -> the stream waiting on it
        # (deadline, ticket, stream, fd): a wait ended by its socket leaves its entry behind
        self._timers: list[tuple[float, int, _Stream, int]] = []
        self._seq = itertools.count(1)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._epoll.register(self._wake_r, select.EPOLLIN)
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.streams = 0  # relayed now

    def run(self, job: Job) -> None:
        """Relay `job` to its end; in the calling thread, raise what the relay raised."""
        self.start()
        try:
            self._before_wait()
        except Exception:  # noqa: BLE001 - the stream goes on; what was held stays held
            logger.exception("stream relay: before_wait failed")
        self._inbox.append(job)
        with contextlib.suppress(BlockingIOError):  # full: a wake-up is pending anyway
            os.write(self._wake_w, b"x")
        job.done.wait()
        if job.error is not None:
            raise job.error

    def start(self) -> None:
        """Start the loop's thread now (else at the first stream). Idempotent."""
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None:
                thread = threading.Thread(target=self._loop, name="d8-relay", daemon=True)
                thread.start()
                self._thread = thread

    # --- in the loop's thread ------------------------------------------------------------

    def wait(self, fileobj, events: int, deadline: float | None) -> bool:
        """From a stream's greenlet: back when `fileobj` is ready (True) or at `deadline`."""
        stream = greenlet.getcurrent()
        fd = fileobj if isinstance(fileobj, int) else fileobj.fileno()
        self._arm(fd, _EPOLL[events] | select.EPOLLONESHOT)
        stream.waiting = ticket = next(self._seq)
        self._waiters[fd] = stream
        if deadline is not None:
            if len(self._timers) > 4 * len(self._waiters) + 1024:
                self._drop_stale_timers()
            heapq.heappush(self._timers, (deadline, ticket, stream, fd))
        return self.hub.switch()

    def _arm(self, fd: int, mask: int) -> None:
        """Watch `fd` for one event of `mask`. A descriptor closed since its last wait is gone
        from the epoll set (its number may now be another socket's): registered anew."""
        if fd in self._armed:
            try:
                self._epoll.modify(fd, mask)
                return
            except FileNotFoundError:
                self._armed.discard(fd)
        try:
            self._epoll.register(fd, mask)
        except FileExistsError:  # the same socket, after a wait that ended at its deadline
            self._epoll.modify(fd, mask)
        self._armed.add(fd)

    def _drop_stale_timers(self) -> None:
        """Most entries belong to waits their socket ended (a token, then the next wait): kept,
        they would pile up for the stall limit's 10 s, about 60,000 at full load."""
        self._timers[:] = [t for t in self._timers if t[2].waiting == t[1]]
        heapq.heapify(self._timers)

    def _loop(self) -> None:
        self.hub = greenlet.getcurrent()
        self._on_start()
        poll, timers, waiters, wake = self._epoll.poll, self._timers, self._waiters, self._wake_r
        while True:
            timeout = -1.0
            if timers:  # epoll waits whole milliseconds: rounded up, never woken early
                timeout = max(0.0, math.ceil((timers[0][0] - time.monotonic()) * 1000) / 1000)
            for fd, _ in poll(timeout):
                if fd == wake:
                    self._take_new()
                elif (stream := waiters.pop(fd, None)) is not None:
                    self._resume(stream, True)
                # else: a wait its deadline ended; one-shot, the descriptor is quiet again
            now = time.monotonic()
            while timers and timers[0][0] <= now:
                _, ticket, stream, fd = heapq.heappop(timers)
                if stream.waiting == ticket:
                    if waiters.get(fd) is stream:
                        del waiters[fd]
                    self._resume(stream, False)

    def _resume(self, stream: _Stream, ready: bool) -> None:
        stream.waiting = 0
        stream.switch(ready)
        if stream.dead:
            self._count(-1)

    def _take_new(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self._wake_r, 4096):
                pass
        while self._inbox:
            job = self._inbox.popleft()
            stream = _Stream(self, job)
            stream.gr_context = job.context
            self._count(1)
            stream.switch()
            if stream.dead:
                self._count(-1)

    def _count(self, change: int) -> None:
        self.streams += change
        self._gauge(self.streams)
        if change < 0:
            try:
                self._after_stream()
            except Exception:  # noqa: BLE001 - the loop must outlive any one stream's mess
                logger.exception("stream relay: after_stream failed")
