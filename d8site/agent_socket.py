"""The agent's connection in the web worker: its timeout kept in Python, its descriptor never
switched between blocking and non-blocking.

CPython's `settimeout` and `setblocking` each cost an ioctl, and a socket with a timeout polls
before every send. gunicorn's gthread switches a connection between its poller (non-blocking)
and a thread (blocking, then a timeout) several times a request: strace counted 9 ioctl and 6
poll a plain request at c=1, each a release of the GIL. Among hundreds of threads each release
can cost two context switches (docs/benchmarks.md, "The GIL's switch interval"). Here the
descriptor is made non-blocking once, at accept; `settimeout`, `setblocking` and `gettimeout`
only record what the caller asked for, and every send and receive is tried first and waits (a
poll bounded by that timeout) only when the kernel says it would block. To its callers
(gunicorn's parser and writer, the stream relay, socket.sendfile) it behaves as a socket with
that timeout: TimeoutError past it, BlockingIOError at once when non-blocking.

An answer's head and body go out in one send: gunicorn writes the head, then the body, each
with its own sendall (two sends, two packets). The worker arms `hold_next()` before each
request; the next sendall (the head) is kept and goes out with the one after it, and
`let_go()` sends it alone when nothing followed (a HEAD request, an empty body). Any other
write (send, sendfile) sends what is held first, so the order of the bytes never changes.

Only plain TCP: a TLS connection is wrapped by gunicorn in the ssl module's own socket.
"""

from __future__ import annotations

import contextlib
import math
import operator
import socket
import time

from llmfallback.providers.cooperative import READ, WRITE, poll_wait

HOLD_MAX = 16 * 1024  # a head and a body up to this are joined; larger ones go out as they come
LET_GO_WAIT_S = 10.0  # held bytes sent from a non-blocking caller: how long they may wait
_ARMED = object()  # hold_next() was called; nothing is held yet


class AgentSocket(socket.socket):
    __slots__ = ("_d8_timeout", "_d8_held")

    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):  # noqa: A002 (socket's names)
        super().__init__(family, type, proto, fileno)
        super().setblocking(False)  # for good: the one ioctl this connection costs
        self._d8_timeout: float | None = None
        self._d8_held: object | bytes | None = None

    @classmethod
    def accept_from(cls, listener: socket.socket) -> tuple[AgentSocket, object]:
        """`listener.accept()`, the connection made one of these."""
        fd, address = listener._accept()
        return cls(listener.family, listener.type, listener.proto, fileno=fd), address

    # --- the timeout, as the caller sees it ---------------------------------------------

    def gettimeout(self) -> float | None:
        return self._d8_timeout

    def settimeout(self, value: float | None) -> None:
        if value is not None:
            # What CPython takes: a float or an integer (a string is a TypeError, as there).
            value = value if isinstance(value, float) else float(operator.index(value))
            if value < 0 or math.isnan(value):
                raise ValueError("Timeout value out of range")
            value = _to_the_nanosecond(value)
        self._d8_timeout = value

    def setblocking(self, flag: bool) -> None:
        self._d8_timeout = None if flag else 0.0

    def getblocking(self) -> bool:
        return self._d8_timeout != 0.0

    # --- what gunicorn and the relay call ----------------------------------------------

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        return self._when_ready(READ, super().recv, bufsize, flags)

    def recv_into(self, buffer, nbytes: int = 0, flags: int = 0) -> int:
        return self._when_ready(READ, super().recv_into, buffer, nbytes, flags)

    def send(self, data, flags: int = 0) -> int:
        self.let_go()
        return self._when_ready(WRITE, super().send, data, flags)

    def sendfile(self, file, offset: int = 0, count: int | None = None) -> int:
        self.let_go()
        return super().sendfile(file, offset, count)

    def sendall(self, data, flags: int = 0) -> None:
        held, self._d8_held = self._d8_held, None
        if held is _ARMED and len(data) <= HOLD_MAX and not flags:
            self._d8_held = bytes(data)  # the head: it goes out with what follows
            return
        if held is not None and held is not _ARMED:
            if len(data) <= HOLD_MAX and not flags:
                data = b"".join((held, data))
            else:
                self._send_all(held, 0)
        self._send_all(data, flags)

    # --- an answer's head and body in one send -----------------------------------------

    def hold_next(self) -> None:
        """Keep the next sendall's bytes until the one after it, or let_go()."""
        self._d8_held = _ARMED

    def let_go(self) -> None:
        """Send what is held now, and hold nothing more."""
        held, self._d8_held = self._d8_held, None
        if held is not None and held is not _ARMED:
            # Even where the caller went non-blocking (the stream relay): these bytes come first.
            blocking = self._d8_timeout != 0.0
            self._send_all(held, 0, self._deadline() if blocking else _let_go_deadline())

    def shutdown(self, how: int) -> None:
        with contextlib.suppress(OSError):  # what was held goes before the end, if it still can
            self.let_go()
        super().shutdown(how)

    def _send_all(self, data, flags: int, deadline: float | None | bool = False) -> None:
        """All of `data` within one timeout for the whole, as CPython's sendall since 3.5."""
        view = memoryview(data).cast("B")
        if deadline is False and self._d8_timeout != 0.0:  # non-blocking: BlockingIOError
            deadline = self._deadline()
        send = super().send
        while view:
            view = view[self._when_ready(WRITE, send, view, flags, deadline=deadline) :]

    def _deadline(self) -> float | None:
        timeout = self._d8_timeout
        return None if timeout is None else time.monotonic() + timeout

    def _when_ready(self, events: int, call, *args, deadline: float | None | bool = False):
        """`call(*args)` now; when it would block, wait for `events` up to the timeout (or the
        deadline given)."""
        while True:
            try:
                return call(*args)
            except BlockingIOError:
                if self._d8_timeout == 0.0 and deadline is False:
                    raise
            if deadline is False:  # the first wait of this call: its clock starts now
                deadline = self._deadline()
            if not poll_wait(self, events, deadline):
                raise TimeoutError("timed out")


def _let_go_deadline() -> float:
    return time.monotonic() + LET_GO_WAIT_S


def _to_the_nanosecond(seconds: float) -> float:
    """As CPython keeps a timeout: whole nanoseconds, rounded up, read back as seconds."""
    ns = math.ceil(seconds * 1e9)
    if ns >= 1 << 63:
        raise OverflowError("timeout doesn't fit into C timeval")
    return float(ns // 10**9) if ns % 10**9 == 0 else ns / 1e9
