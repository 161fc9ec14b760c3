"""Reading one HTTP/1.1 answer off a connection, for http11.Http11Transport: the status line and
headers, then the body framed by chunked encoding, Content-Length or the connection's end, handed
on as it arrives. Anything else is a RemoteProtocolError, and the connection is not reused."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import httpcore
import httpx

MAX_HEAD = 64 * 1024  # status line and headers: more is no HTTP answer a provider sends
MAX_LINE = 4096  # a chunk-size line or a trailer
READ = 64 * 1024
_BLANK_LINE = re.compile(rb"\n\r?\n")


class Connection:
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


class Body(httpx.SyncByteStream):
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
        with mapped(self._request):
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
        """The body as it arrives: whole chunks already read off the socket together go on as
        one item (a provider writes an event a chunk, and under load one read holds dozens: each
        item costs every layer above its Python once); a chunk not all here yet goes on in the
        parts that came, as they come."""
        conn, timeout = self._conn, self._timeout
        whole: list[bytes] = []  # chunks taken from the buffer, not yet handed on

        def handed_on() -> Iterator[bytes]:  # before anything that may wait for the network
            if whole:
                yield b"".join(whole)
                whole.clear()

        while True:
            if whole and not _next_chunk_buffered(conn.buffer):
                yield from handed_on()
            size = _chunk_size(conn.read_line(timeout))
            if size == 0:
                break
            while size:
                data = conn.take(size, timeout, "in the middle of a chunked body")
                size -= len(data)
                if size:  # the rest of this chunk is still to come
                    yield from handed_on()
                    yield data
                else:
                    whole.append(data)
            if whole and b"\n" not in conn.buffer:  # its line end is still to come
                yield from handed_on()
            if conn.read_line(timeout):
                raise httpcore.RemoteProtocolError("A chunk does not end with CRLF.")
        yield from handed_on()
        while conn.read_line(timeout):  # trailers: read and dropped
            pass
        self._done = True

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._done and self._keep and not conn.buffer:
            self._pool.release(self._origin, conn)
        else:
            conn.close()


def _content_length(values: list[bytes]) -> int:
    found = {v.strip() for value in values for v in value.split(b",")}
    if len(found) != 1 or not (n := found.pop()).isdigit():
        raise httpcore.RemoteProtocolError(f"Invalid Content-Length: {values!r}")
    return int(n)


def _next_chunk_buffered(buffer: bytearray) -> bool:
    """Whether the buffer holds the next chunk whole (its size line, data and line end), or the
    last chunk's size line. A size line that is no size says no: what came before it goes on
    first, then reading it raises."""
    end = buffer.find(b"\n")
    if end < 0:
        return False
    try:
        size = _chunk_size(bytes(buffer[:end]).removesuffix(b"\r"))
    except httpcore.RemoteProtocolError:
        return False
    return size == 0 or buffer.find(b"\n", end + 1 + size) >= 0


def _chunk_size(line: bytes) -> int:
    size = line.split(b";", 1)[0].strip()
    if not size or len(size) > 16 or size.strip(b"0123456789abcdefABCDEF"):
        raise httpcore.RemoteProtocolError(f"Invalid chunk size: {line[:100]!r}")
    return int(size, 16)


@contextlib.contextmanager
def mapped(request: httpx.Request) -> Iterator[None]:
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
