"""HTTP/1.1 for provider calls: the framing httpcore and h11 do, at a fraction of their CPU.

A chat call through httpx spent about a third of the gateway's CPU in httpcore's connection
pool and h11's event machine (bench/profile_v1.py): state checks, header validation and event
objects for what is, to a provider, one request line, a dozen headers and a body. This transport
writes the request in one send and reads the answer with a small parser. httpx.Client stays the
interface (adapters, MockTransport in tests, gzip decoding, timeouts), and the sockets stay
transport.DeadlineBackend's, so every attempt budget holds exactly as before.

Not here, because provider calls need none of it: HTTP/2, proxies (httpx mounts its own
transport for those), Unix sockets, `Expect: 100-continue`, request bodies that stream.
"""

from __future__ import annotations

import ssl
import threading
import time

import httpcore
import httpx

from .http11_reader import Body, Connection, mapped

_PORTS = {"http": 80, "https": 443}


class Http11Transport(httpx.BaseTransport):
    """Keep-alive HTTP/1.1 over `backend`'s streams, at most `max_keepalive` idle connections
    (each reused within `keepalive_expiry` seconds, never after the server may have closed it).
    """

    def __init__(
        self,
        backend: httpcore.NetworkBackend,
        ssl_context: ssl.SSLContext,
        *,
        max_keepalive: int = 64,
        keepalive_expiry: float = 5.0,
    ) -> None:
        self._backend = backend
        self._ssl = ssl_context
        self._max_idle = max_keepalive
        self._expiry = keepalive_expiry
        self._idle: dict[tuple[str, str, int], list[Connection]] = {}
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in _PORTS:
            message = f"Request URL has an unsupported protocol '{url.scheme}://'."
            raise httpx.UnsupportedProtocol(message, request=request)
        origin = (url.scheme, url.host, url.port or _PORTS[url.scheme])
        timeouts = request.extensions.get("timeout", {})
        payload = _head(request) + request.read()
        with mapped(request):
            conn = self._reused(origin) or self._connect(origin, timeouts.get("connect"))
            try:
                conn.stream.write(payload, timeouts.get("write"))
                keep, status, reason, headers = conn.read_head(timeouts.get("read"))
                answer = (keep, status, headers)
                body = Body(self, origin, conn, request, answer, timeouts.get("read"))
            except BaseException:
                conn.close()
                raise
        return httpx.Response(
            status,
            headers=headers,
            stream=body,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": reason},
        )

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()

    def _connect(self, origin, timeout: float | None) -> Connection:
        scheme, host, port = origin
        stream = self._backend.connect_tcp(host, port, timeout=timeout)
        if scheme == "https":
            try:
                stream = stream.start_tls(self._ssl, server_hostname=host, timeout=timeout)
            except BaseException:
                stream.close()
                raise
        return Connection(stream)

    def _reused(self, origin) -> Connection | None:
        """The newest idle connection to `origin` that is still good, or None."""
        now = time.monotonic()
        while True:
            with self._lock:
                conns = self._idle.get(origin)
                if not conns:
                    return None
                conn = conns.pop()
            # Expired, or readable while idle: the server closed it (or sent what nobody asked).
            if now - conn.idle_since < self._expiry and not conn.stream.get_extra_info(
                "is_readable"
            ):
                return conn
            conn.close()

    def release(self, origin, conn: Connection) -> None:
        """Keep a connection whose answer was read to its end (Body.close), or close it."""
        conn.idle_since = time.monotonic()
        with self._lock:
            conns = self._idle.setdefault(origin, [])
            if sum(map(len, self._idle.values())) < self._max_idle:
                conns.append(conn)
                return
        conn.close()


def _head(request: httpx.Request) -> bytes:
    """The request line and headers (httpx has set Host and Content-Length). A line break in
    a header (a key pasted with its newline) would split the request: refused, as h11 does,
    without repeating the value (it may be a key)."""
    lines = [b"%s %s HTTP/1.1" % (request.method.encode(), request.url.raw_path)]
    lines += [b"%s: %s" % pair for pair in request.headers.raw]
    head = b"\r\n".join(lines)
    if head.count(b"\n") != len(lines) - 1 or head.count(b"\r") != len(lines) - 1:
        raise httpx.LocalProtocolError("A request header holds a line break.", request=request)
    return head + b"\r\n\r\n"
