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

import contextlib
import re
import ssl
import threading
import time
from collections.abc import Iterator

import httpcore
import httpx

MAX_HEAD = 64 * 1024  # status line and headers: more is no HTTP answer a provider sends
MAX_LINE = 4096  # a chunk-size line or a trailer
READ = 64 * 1024
_BLANK_LINE = re.compile(rb"\n\r?\n")
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
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in _PORTS:
            message = f"Request URL has an unsupported protocol '{url.scheme}://'."
            raise httpx.UnsupportedProtocol(message, request=request)
        origin = (url.scheme, url.host, url.port or _PORTS[url.scheme])
        timeouts = request.extensions.get("timeout", {})
        payload = _head(request) + request.read()
        with _mapped(request):
            conn = self._reused(origin) or self._connect(origin, timeouts.get("connect"))
            try:
                conn.stream.write(payload, timeouts.get("write"))
                keep, status, reason, headers = conn.read_head(timeouts.get("read"))
                answer = (keep, status, headers)
                body = _Body(self, origin, conn, request, answer, timeouts.get("read"))
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

    def _connect(self, origin, timeout: float | None) -> _Connection:
        scheme, host, port = origin
        stream = self._backend.connect_tcp(host, port, timeout=timeout)
        if scheme == "https":
            try:
                stream = stream.start_tls(self._ssl, server_hostname=host, timeout=timeout)
            except BaseException:
                stream.close()
                raise
        return _Connection(stream)

    def _reused(self, origin) -> _Connection | None:
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

    def _release(self, origin, conn: _Connection) -> None:
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


class _Connection:
    __slots__ = ("buffer", "idle_since", "stream")

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self.stream = stream
        self.buffer = bytearray()  # read from the socket, not yet parsed
        self.idle_since = 0.0

    def fill(self, timeout: float | None, what: str) -> None:
        """Read more into the buffer; RemoteProtocolError if the server closed instead."""
        data = self.stream.read(READ, timeout)
        if not data:
            raise httpcore.RemoteProtocolError(f"Server disconnected {what}.")
        self.buffer += data

    def read_head(self, timeout: float | None) -> tuple[bool, int, bytes, list]:
        """The final answer's (keep-alive, status, reason, headers); 1xx interim answers (but
        101) are skipped."""
        while True:
            keep, status, reason, headers = parse_head(self._head_bytes(timeout))
            if not 100 <= status < 200 or status == 101:
                return keep, status, reason, headers

    def _head_bytes(self, timeout: float | None) -> bytes:
        """Up to the blank line that ends the headers (CRLF, or a bare LF as h11 allows)."""
        start = 0
        while (found := _BLANK_LINE.search(self.buffer, start)) is None:
            if len(self.buffer) > MAX_HEAD:
                raise httpcore.RemoteProtocolError("Response headers are too long.")
            start = max(0, len(self.buffer) - 2)
            what = "without sending a complete response" if self.buffer else ""
            self.fill(timeout, what or "without sending a response")
        head = bytes(self.buffer[: found.start()])
        del self.buffer[: found.end()]
        return head

    def read_line(self, timeout: float | None) -> bytes:
        """One line of a chunked body's framing, without its CRLF (or bare LF)."""
        while (end := self.buffer.find(b"\n")) < 0:
            if len(self.buffer) > MAX_LINE:
                raise httpcore.RemoteProtocolError("A chunk header is too long.")
            self.fill(timeout, "in the middle of a chunked body")
        line = bytes(self.buffer[:end])
        del self.buffer[: end + 1]
        return line.removesuffix(b"\r")

    def take(self, limit: int, timeout: float | None, what: str) -> bytes:
        """Up to `limit` body bytes: what is buffered, else one read's worth."""
        if not self.buffer:
            self.fill(timeout, what)
        data = bytes(self.buffer[:limit])
        del self.buffer[:limit]
        return data

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stream.close()


def parse_head(head: bytes) -> tuple[bool, int, bytes, list[tuple[bytes, bytes]]]:
    """(keep-alive by default, status, reason, headers) of a status line and header lines, as
    RFC 9112 has them; RemoteProtocolError for anything else. Folded lines are refused."""
    status_line, *lines = (line.removesuffix(b"\r") for line in head.split(b"\n"))
    version, _, rest = status_line.partition(b" ")
    code, _, reason = rest.partition(b" ")
    if version not in (b"HTTP/1.1", b"HTTP/1.0") or len(code) != 3 or not code.isdigit():
        raise httpcore.RemoteProtocolError(f"Invalid status line: {status_line[:100]!r}")
    headers = []
    for line in lines:
        name, colon, value = line.partition(b":")
        if not colon or not name or name.strip(_TOKEN):
            raise httpcore.RemoteProtocolError(f"Invalid header line: {line[:100]!r}")
        headers.append((name, value.strip(b" \t")))
    return version == b"HTTP/1.1", int(code), reason, headers


# RFC 9110's tchar: what a header name is made of.
_TOKEN = b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


class _Body(httpx.SyncByteStream):
    """The answer's body as it arrives, framed by chunked encoding, Content-Length or the
    connection's end. A body read to its end goes back to the pool; any other closes."""

    def __init__(self, pool, origin, conn, request, answer, timeout) -> None:
        keep, status, headers = answer
        self._pool, self._origin, self._conn = pool, origin, conn
        self._request, self._timeout = request, timeout
        fields: dict[bytes, list[bytes]] = {}
        for name, value in headers:
            fields.setdefault(name.lower(), []).append(value.lower())
        tokens = {t.strip() for v in fields.get(b"connection", ()) for t in v.split(b",")}
        self._keep = keep and b"close" not in tokens
        self._chunked = False
        self._left: float = float("inf")  # bytes of body still to come (inf: until close)
        coding = fields.get(b"transfer-encoding")
        if request.method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            self._left = 0
            self._keep = self._keep and status != 101  # the connection is no longer HTTP
        elif coding:
            self._chunked = coding[-1].rsplit(b",", 1)[-1].strip() == b"chunked"
            # Not chunked: the body ends at close. With a Content-Length too, the two framings
            # disagree about where the next answer starts: RFC 9112 says close after this one.
            self._keep = self._keep and self._chunked and b"content-length" not in fields
        elif b"content-length" in fields:
            self._left = _content_length(fields[b"content-length"])
        else:
            self._keep = False
        self._done = self._left == 0

    def __iter__(self) -> Iterator[bytes]:
        with _mapped(self._request):
            yield from (self._chunks() if self._chunked else self._sized())

    def _sized(self) -> Iterator[bytes]:
        while self._left > 0:
            try:
                data = self._conn.take(min(self._left, READ), self._timeout, "mid-body")
            except httpcore.RemoteProtocolError:
                if self._left == float("inf"):  # the body was "until the connection closes"
                    break
                raise httpcore.RemoteProtocolError(
                    "peer closed connection without sending complete message body: "
                    f"{self._left:.0f} bytes missing"
                ) from None
            self._left -= len(data)
            yield data
        self._done = True

    def _chunks(self) -> Iterator[bytes]:
        conn, timeout = self._conn, self._timeout
        while True:
            size = _chunk_size(conn.read_line(timeout))
            if size == 0:
                break
            while size:
                data = conn.take(size, timeout, "in the middle of a chunked body")
                size -= len(data)
                yield data
            if conn.read_line(timeout):
                raise httpcore.RemoteProtocolError("A chunk does not end with CRLF.")
        while conn.read_line(timeout):  # trailers: read and dropped
            pass
        self._done = True

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._done and self._keep and not conn.buffer:
            self._pool._release(self._origin, conn)
        else:
            conn.close()


def _content_length(values: list[bytes]) -> int:
    found = {v.strip() for value in values for v in value.split(b",")}
    if len(found) != 1 or not (n := found.pop()).isdigit():
        raise httpcore.RemoteProtocolError(f"Invalid Content-Length: {values!r}")
    return int(n)


def _chunk_size(line: bytes) -> int:
    size = line.split(b";", 1)[0].strip()
    if not size or len(size) > 16 or size.strip(b"0123456789abcdefABCDEF"):
        raise httpcore.RemoteProtocolError(f"Invalid chunk size: {line[:100]!r}")
    return int(size, 16)


@contextlib.contextmanager
def _mapped(request: httpx.Request) -> Iterator[None]:
    """httpcore's exceptions as httpx's (as httpx.HTTPTransport does): ReadTimeout for
    ReadTimeout, RemoteProtocolError for RemoteProtocolError..., each naming the request."""
    try:
        yield
    except Exception as e:
        for cls in type(e).__mro__:
            if not cls.__module__.startswith("httpcore"):
                continue
            mapped = getattr(httpx, cls.__name__, None)
            if isinstance(mapped, type) and issubclass(mapped, httpx.HTTPError):
                raise mapped(str(e), request=request) from e
        raise
