"""An httpx client whose network layer holds each attempt to its budget, in every phase.

httpx applies timeouts per socket operation: a server that sends its headers one slow line at a
time, or a body of blank lines, resets them with every byte and can hold a call for ever. Here
every DNS lookup, connect, TLS handshake, write and read is capped at what is left of the
attempt's budget, which `HTTPProvider._send` sets for the duration of one call (`attempt_budget`).
The budget (budget.py) lives in a ContextVar, so the threads sharing one client never see each
other's. Code running under the stream relay's loop (d8site/relay.py) waits through it instead
of blocking its thread, with the same caps and errors (cooperative.py).
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import math
import socket
import ssl
import threading
import typing
from collections.abc import Callable
from concurrent.futures import Future

import httpcore
import httpx

from . import cooperative
from .budget import Budget, current_budget
from .http11 import Http11Transport
from .http_client import ProviderClient

Resolver = Callable[..., list]  # socket.getaddrinfo's signature


class DeadlineStream(httpcore.NetworkStream):
    """A stream whose reads and writes never wait past the current attempt's budget."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream
        self._sock = _own_socket(stream)
        # A plain socket's reads wait first; a TLS one's are tried first (its layer may hold
        # bytes already read off the socket).
        self._plain = self._sock is not None and not isinstance(self._sock, ssl.SSLSocket)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        budget = current_budget()
        if budget is not None:
            if budget.phase != "body":
                budget.phase = "headers"
            # On our own socket a read past the budget still takes the bytes already there:
            # they came while this worker was busy elsewhere, and are the provider's answer,
            # not its silence. Only an empty socket at the deadline is a timeout.
            late = 0.0 if self._sock is not None else None
            timeout = budget.cap(timeout, httpcore.ReadTimeout, when_spent=late)
        if self._sock is None:
            return self._stream.read(max_bytes, timeout)
        if wait := cooperative.waiter():  # under the stream relay's loop
            return cooperative.recv(wait, self._sock, max_bytes, timeout)
        return cooperative.recv(cooperative.poll_wait, self._sock, max_bytes, timeout, self._plain)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        budget = current_budget()
        if self._sock is None:
            cap = timeout if budget is None else budget.cap(timeout, httpcore.WriteTimeout)
            return self._stream.write(buffer, cap)
        # Each send is capped anew (httpcore's write loops send() with the same timeout each
        # time, so a peer that drains a few bytes at a time could stretch it for ever).
        wait = cooperative.waiter() or cooperative.poll_wait
        if budget is None:
            return cooperative.send(wait, self._sock, buffer, lambda: timeout)
        budget.phase = "write"
        cap = functools.partial(budget.cap, timeout, httpcore.WriteTimeout)
        return cooperative.send(wait, self._sock, buffer, cap)

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        budget = current_budget()
        if budget is not None:
            budget.phase = "tls"
            timeout = budget.cap(timeout, httpcore.ConnectTimeout)
        if self._sock is not None and not isinstance(self._sock, ssl.SSLSocket):
            if wait := cooperative.waiter():
                tls = cooperative.start_tls(wait, self._sock, ssl_context, server_hostname, timeout)
                return DeadlineStream(tls)
        # CPython bounds the whole handshake by the socket timeout, not each of its reads.
        return DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._stream.get_extra_info(info)


def _own_socket(stream: httpcore.NetworkStream) -> socket.socket | None:
    """The socket we may send on directly: not under TLS-in-TLS, which encrypts above it."""
    sock = stream.get_extra_info("socket")
    if not isinstance(sock, socket.socket):
        return None
    if stream.get_extra_info("ssl_object") is not None and not isinstance(sock, ssl.SSLSocket):
        return None
    return sock


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's SyncBackend with name resolution and connects bounded by the budget."""

    def __init__(self, resolver: Resolver = socket.getaddrinfo) -> None:
        self._inner = httpcore.SyncBackend()
        self._resolver = resolver

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        budget = current_budget() or Budget(math.inf)  # no attempt: only `timeout` applies
        budget.phase = "dns"
        addresses = self._resolve(host, port, budget.cap(timeout, httpcore.ConnectTimeout))
        budget.phase = "connect"
        error: Exception = httpcore.ConnectError(f"no address for {host}")
        for address in addresses:  # each address in turn, as socket.create_connection does
            try:
                cap = budget.cap(timeout, httpcore.ConnectTimeout)
                options = list(socket_options or [])
                if wait := cooperative.waiter():
                    stream = cooperative.connect(wait, address, port, cap, local_address, options)
                else:
                    stream = self._inner.connect_tcp(address, port, cap, local_address, options)
                return DeadlineStream(stream)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                error = e
        raise error

    def _resolve(self, host: str, port: int, timeout: float) -> list[str]:
        """The host's addresses, in the resolver's order; a literal IP needs no lookup."""
        with contextlib.suppress(ValueError):
            return [str(ipaddress.ip_address(host))]
        # getaddrinfo takes no timeout: run it on a daemon thread and stop waiting at the cap.
        # One thread per lookup, not a shared pool, so a stalled name never queues the others;
        # lookups only happen when a new connection opens, not on keep-alive calls.
        future: Future = Future()
        lookup = threading.Thread(target=self._lookup, args=(future, host, port), daemon=True)
        lookup.name = f"llm-dns {host}"
        lookup.start()
        try:
            wait = cooperative.waiter()
            infos = cooperative.result(wait, future, timeout) if wait else future.result(timeout)
        except TimeoutError:  # concurrent.futures' is the same class since Python 3.11
            raise httpcore.ConnectTimeout(f"dns: no answer for {host} in {timeout:.2f}s") from None
        except Exception as e:  # gaierror, or UnicodeError for a name IDNA rejects: no host
            raise httpcore.ConnectError(f"dns: {host}: {e}") from e
        return list(dict.fromkeys(info[4][0] for info in infos))

    def _lookup(self, future: Future, host: str, port: int) -> None:
        try:
            future.set_result(self._resolver(host, port, 0, socket.SOCK_STREAM))
        except Exception as e:  # handed to the waiting caller, if it still waits
            future.set_exception(e)

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        return DeadlineStream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def build_client(
    *,
    max_keepalive: int = 64,
    verify: ssl.SSLContext | str | bool = True,
    resolver: Resolver = socket.getaddrinfo,
    before_send: Callable[[httpx.Request], None] | None = None,
) -> httpx.Client:
    """The shared client for provider calls: each call's budget holds in every phase.

    HTTP/1.1 framing by http11.Http11Transport over DeadlineBackend's sockets. Connections in
    use are not capped: there is one per request thread at most, and gunicorn caps those.
    before_send: called with each request just before it goes out (db_pool.db_release).
    """
    context = _default_tls() if verify is True else httpx.create_ssl_context(verify=verify)
    transport = Http11Transport(DeadlineBackend(resolver), context, max_keepalive=max_keepalive)
    hooks = {"request": [before_send]} if before_send else {}
    return ProviderClient(transport=transport, follow_redirects=False, event_hooks=hooks)


@functools.cache
def _default_tls() -> ssl.SSLContext:
    """The verifying TLS context, made once per process: loading the CA bundle costs ~50 ms,
    paid again by every client built after a configuration change (runtime.runtime_reset).
    A context is safe to share between clients and threads."""
    return httpx.create_ssl_context(verify=True)
