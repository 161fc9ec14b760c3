"""Network waits that yield to an event loop instead of blocking a thread, for code that runs
in one of its greenlets (the serving layer's stream relay, d8site/relay.py).

A thread per stream paid, for every token, four calls that released the GIL and about twenty
futex wake-ups among hundreds of threads (docs/benchmarks.md): a stream spread over a second
cost 12–15 ms of CPU where its Python is 3 ms. Under a loop, one thread waits on every stream's
sockets at once and runs each stream's Python when its bytes arrive.

`waiter()` says whether the running code is under such a loop: its greenlet carries a
`wait_io(fileobj, events, deadline) -> bool` (False once `deadline`, a time.monotonic() value,
has passed). Elsewhere it is None and transport.py blocks as it always has. Every function here
keeps httpcore's contract: the same exceptions (ReadTimeout, ReadError, ConnectError...) for
the same causes, so the attempt budget and the failure classes read them as before.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import select
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial

import httpcore
from greenlet import getcurrent
from httpcore._backends.sync import SyncStream  # httpcore's socket stream, for a socket made here

READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE
Wait = Callable[[object, int, "float | None"], bool]


def waiter() -> Wait | None:
    """The running greenlet's loop wait, or None when this code may block its thread."""
    return getattr(getcurrent(), "wait_io", None)


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


def _retry(wait: Wait, sock, deadline, call, timeout_error: type[Exception]):
    """`call()` on a non-blocking socket until it does not ask to wait; waits via the loop."""
    while True:
        try:
            return call()
        except (BlockingIOError, ssl.SSLWantReadError):
            events = READ
        except ssl.SSLWantWriteError:
            events = WRITE
        if not wait(sock, events, deadline):
            raise timeout_error("timed out")


def _nonblocking(sock: socket.socket) -> None:
    if sock.gettimeout() != 0.0:  # a syscall saved on every token of a stream
        sock.setblocking(False)


def poll_wait(fileobj, events: int, deadline: float | None) -> bool:
    """The Wait of a thread that may block (no loop above it): a poll up to `deadline`.

    transport.py reads and writes a provider's socket through it, and d8site/agent_socket.py an
    agent's, each socket left non-blocking:
    CPython's own timeouts cost an ioctl for every settimeout and a poll before every send, each
    a release of the GIL that a thread among hundreds pays for in context switches.
    """
    poller = select.poll()
    poller.register(
        fileobj, (select.POLLIN if events & READ else 0) | (select.POLLOUT if events & WRITE else 0)
    )
    if deadline is None:
        return bool(poller.poll())
    return bool(poller.poll(max(0, math.ceil((deadline - time.monotonic()) * 1000))))


def recv(
    wait: Wait, sock: socket.socket, max_bytes: int, timeout: float | None, wait_first=False
) -> bytes:
    """Up to `max_bytes`. wait_first: wait for the socket before the first try, as a read of an
    answer still being written would only be told to wait (never for TLS, whose layer may hold
    bytes already read off the socket)."""
    deadline = _deadline(timeout)
    _nonblocking(sock)
    try:
        if wait_first and not wait(sock, READ, deadline):
            raise httpcore.ReadTimeout("timed out")
        return _retry(wait, sock, deadline, lambda: sock.recv(max_bytes), httpcore.ReadTimeout)
    except httpcore.ReadTimeout:
        raise
    except OSError as e:
        raise httpcore.ReadError(str(e)) from e


def send(wait: Wait, sock: socket.socket, data: bytes, cap: Callable[[], float | None]) -> None:
    """All of `data`; `cap()` is asked before each send how long this one may still wait."""
    view = memoryview(data)
    _nonblocking(sock)
    try:
        while view:
            sent = _retry(
                wait, sock, _deadline(cap()), partial(sock.send, view), httpcore.WriteTimeout
            )
            view = view[sent:]
    except httpcore.WriteTimeout:
        raise
    except OSError as e:
        raise httpcore.WriteError(str(e)) from e


def connect(
    wait: Wait, address: str, port: int, timeout: float | None, local_address, options
) -> httpcore.NetworkStream:
    """httpcore.SyncBackend.connect_tcp's stream (TCP_NODELAY, the options), connected without
    blocking. `address` is an IP address: the name was resolved before (resolve())."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if local_address is not None:
            sock.bind((local_address, 0))
        sock.setblocking(False)
        code = sock.connect_ex((address, port))
        if code in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN):
            if not wait(sock, WRITE, _deadline(timeout)):
                raise httpcore.ConnectTimeout("timed out")
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            raise httpcore.ConnectError(f"[Errno {code}] {os.strerror(code)}")
        for option in options or ():
            sock.setsockopt(*option)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except BaseException:
        sock.close()
        raise
    return SyncStream(sock)


def start_tls(
    wait: Wait, sock: socket.socket, context: ssl.SSLContext, hostname, timeout
) -> httpcore.NetworkStream:
    """The TLS handshake on `sock` without blocking; httpcore's errors for its failures."""
    sock.setblocking(False)
    try:
        tls = context.wrap_socket(sock, server_hostname=hostname, do_handshake_on_connect=False)
        _retry(wait, tls, _deadline(timeout), tls.do_handshake, httpcore.ConnectTimeout)
    except httpcore.ConnectTimeout:
        sock.close()
        raise
    except OSError as e:  # ssl.SSLError (a bad certificate...) is an OSError, as in httpcore
        sock.close()
        raise httpcore.ConnectError(str(e)) from e
    return SyncStream(tls)


def sleep(seconds: float) -> None:
    """time.sleep, or under the loop a wait on nothing until `seconds` have passed: a retry's
    wait mid-stream (a provider that named a short one) must not stop every other stream."""
    wait = waiter()
    if wait is None:
        time.sleep(seconds)
        return
    never = _Pipe()  # nobody writes to it: only the deadline ends the wait
    try:
        wait(never.read_end, READ, time.monotonic() + max(0.0, seconds))
    finally:
        never.close()


def result(wait: Wait, future: Future, timeout: float | None):
    """future.result(), waiting through the loop: a pipe is written when the future is done."""
    if future.done():
        return future.result()
    done = _Pipe()
    try:
        future.add_done_callback(done.ping)
        if not wait(done.read_end, READ, _deadline(timeout)) and not future.done():
            raise TimeoutError
        return future.result()
    finally:
        done.close()


class _Pipe:
    """A pipe a thread writes to once: never after close, when its numbers may be reused."""

    def __init__(self) -> None:
        self.read_end, self._write_end = os.pipe()
        self._lock = threading.Lock()
        self._open = True

    def ping(self, _future=None) -> None:
        with self._lock, contextlib.suppress(OSError):
            if self._open:
                os.write(self._write_end, b"x")

    def close(self) -> None:
        with self._lock:
            self._open = False
            os.close(self.read_end)
            os.close(self._write_end)
