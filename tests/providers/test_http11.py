"""providers/http11.py and http11_reader.py: HTTP/1.1 for provider calls, over a scripted network.

Each fake connection hands out the server's bytes in the pieces a test chooses (as TCP may cut
them anywhere), records what the client wrote, and says whether it was closed. The loopback
tests in test_stalls.py and test_stream_connections.py run the same transport over real sockets.
"""

from __future__ import annotations

import ssl

import httpcore
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmfallback.providers import http11
from llmfallback.providers.http11 import Http11Transport

URL = "http://provider.test/v1/chat/completions"
TLS = ssl.create_default_context()  # loading the CA bundle takes ~50 ms: once, not per client


class FakeStream(httpcore.NetworkStream):
    def __init__(self, pieces: list[bytes], *, readable_when_idle: bool = False) -> None:
        self.pieces = list(pieces)
        self.written = b""
        self.closed = False
        self.readable_when_idle = readable_when_idle

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if not self.pieces:
            return b""  # the server closed
        piece = self.pieces.pop(0)
        if isinstance(piece, Exception):
            raise piece
        assert len(piece) <= max_bytes
        return piece

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.written += buffer

    def close(self) -> None:
        self.closed = True

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        self.tls_host = server_hostname
        return self

    def get_extra_info(self, info: str):
        return self.readable_when_idle if info == "is_readable" else None


class FakeBackend(httpcore.NetworkBackend):
    """Hands out the scripted connections in order; records where each went."""

    def __init__(self, *streams: FakeStream) -> None:
        self.streams = list(streams)
        self.opened: list[tuple[str, int]] = []

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        self.opened.append((host, port))
        return self.streams.pop(0)


def client_over(*streams: FakeStream, **kwargs) -> tuple[httpx.Client, FakeBackend]:
    backend = FakeBackend(*streams)
    transport = Http11Transport(backend, TLS, **kwargs)
    return httpx.Client(transport=transport), backend


OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}'


def test_one_request_in_one_write_and_the_answer_parsed():
    stream = FakeStream([OK])
    client, backend = client_over(stream)
    r = client.post(URL, json={"a": 1}, headers={"Authorization": "Bearer k"})
    assert (r.status_code, r.json(), r.headers["content-type"]) == (
        200,
        {"ok": True},
        "application/json",
    )
    assert r.http_version == "HTTP/1.1" and r.reason_phrase == "OK"
    head, body = stream.written.split(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /v1/chat/completions HTTP/1.1"
    assert b"Host: provider.test" in lines and b"Authorization: Bearer k" in lines
    assert b"Content-Length: 7" in lines and body == b'{"a":1}'
    assert backend.opened == [("provider.test", 80)]


def test_a_finished_answer_keeps_its_connection_for_the_next_call():
    stream = FakeStream([OK, OK])
    client, backend = client_over(stream)
    assert [client.get(URL).status_code for _ in range(2)] == [200, 200]
    assert len(backend.opened) == 1 and not stream.closed


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\n\r\nok",  # no length: the body ends when the connection does
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\n\r\n"
        b"2\r\nok\r\n0\r\n\r\n",  # two framings at odds: close after (RFC 9112 6.3)
    ],
    ids=["connection-close", "http-1.0", "until-close", "chunked-and-length"],
)
def test_an_answer_that_ends_its_connection_is_not_reused(answer):
    first, second = FakeStream([answer]), FakeStream([OK])
    client, backend = client_over(first, second)
    assert client.get(URL).content == b"ok"
    assert client.get(URL).status_code == 200
    assert first.closed and len(backend.opened) == 2


def test_an_idle_connection_the_server_closed_is_not_reused():
    first = FakeStream([OK], readable_when_idle=True)  # EOF waiting on an idle socket
    client, backend = client_over(first, FakeStream([OK]))
    client.get(URL)
    client.get(URL)
    assert first.closed and len(backend.opened) == 2


def test_an_expired_idle_connection_is_not_reused(monkeypatch):
    first = FakeStream([OK])
    client, backend = client_over(first, FakeStream([OK]), keepalive_expiry=5.0)
    client.get(URL)
    now = http11.time.monotonic()
    monkeypatch.setattr(http11.time, "monotonic", lambda: now + 6)
    client.get(URL)
    assert first.closed and len(backend.opened) == 2


def test_idle_connections_beyond_the_limit_are_closed():
    streams = [FakeStream([OK]) for _ in range(3)]
    client, _ = client_over(*streams, max_keepalive=2)
    responses = [client.send(client.build_request("GET", URL), stream=True) for _ in range(3)]
    for r in responses:
        r.read()
        r.close()
    assert [s.closed for s in streams] == [False, False, True]


def test_a_body_left_unread_closes_its_connection():
    stream = FakeStream([OK[:-5], OK[-5:]])
    client, backend = client_over(stream, FakeStream([OK]))
    with client.stream("GET", URL) as r:
        assert r.status_code == 200  # the body is never read
    assert stream.closed
    client.get(URL)
    assert len(backend.opened) == 2


def test_https_goes_through_tls_with_the_host_name():
    stream = FakeStream([OK])
    client, backend = client_over(stream)
    client.get("https://api.groq.test/openai/v1/models")
    assert stream.tls_host == "api.groq.test" and backend.opened == [("api.groq.test", 443)]


def test_interim_answers_are_skipped_and_head_and_204_have_no_body():
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
    stream = FakeStream([interim + OK, b"HTTP/1.1 204 No Content\r\n\r\n"])
    stream.pieces.append(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n")
    client, backend = client_over(stream)
    assert client.get(URL).json() == {"ok": True}
    assert client.get(URL).content == b""
    assert client.head(URL).content == b""  # Content-Length 99, and no body: a HEAD
    assert len(backend.opened) == 1


def test_a_body_streams_as_its_chunks_arrive():
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    pieces = [
        head,
        b"6\r\ndata: ",
        b"\r\n1\r\na",
        b"\r\nA;ext=1\r\n\ndata: b\n\n\r\n",
        b"0\r\nX-T: 1\r\n\r\n",
    ]
    client, _ = client_over(FakeStream(pieces))
    with client.stream("POST", URL, json={}) as r:
        assert list(r.iter_raw()) == [b"data: ", b"a", b"\ndata: b\n\n"]


def test_chunks_that_came_in_one_read_go_on_as_one_item():
    """Under load one read holds many events: each item costs every layer above it once."""
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    events = [b"data: %d\n\n" % n for n in range(5)]
    framed = [b"%x\r\n%s\r\n" % (len(e), e) for e in events]
    pieces = [head, b"".join(framed[:3]), framed[3] + framed[4][:4], framed[4][4:] + b"0\r\n\r\n"]
    client, _ = client_over(FakeStream(pieces))
    with client.stream("POST", URL, json={}) as r:
        items = list(r.iter_raw())
    assert items == [b"".join(events[:3]), events[3], events[4][:1], events[4][1:]]


def test_what_came_before_a_broken_chunk_is_handed_on_before_the_error():
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    client, _ = client_over(FakeStream([head + b"2\r\nab\r\n3\r\ncde\r\nzz\r\n"]))
    got = []
    with client.stream("POST", URL, json={}) as r, pytest.raises(httpx.RemoteProtocolError):
        for item in r.iter_raw():
            got.append(item)
    assert got == [b"abcde"]


@pytest.mark.parametrize(
    ("pieces", "error"),
    [
        ([], "without sending a response"),
        ([b"HTTP/1.1 200 OK\r\nContent-"], "without sending a complete response"),
        ([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"], "7 bytes missing"),
        ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"], "chunked"),
        ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"], "Invalid chunk size"),
        ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n"], "CRLF"),
        ([b"SSH-2.0-OpenSSH\r\n\r\n"], "Invalid status line"),
        ([b"HTTP/1.1 2000 OK\r\n\r\n"], "Invalid status line"),
        ([b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n"], "Invalid header line"),
        ([b"HTTP/1.1 200 OK\r\n folded: x\r\n\r\n"], "Invalid header line"),
        ([b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n"], "Invalid Content-Length"),
        ([b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"], "Invalid Content-Length"),
        ([b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70_000], "too long"),
    ],
)
def test_what_is_not_http_is_a_remote_protocol_error_and_closes(pieces, error):
    stream = FakeStream([p[i : i + 65536] for p in pieces for i in range(0, len(p), 65536)])
    client, _ = client_over(stream)
    with pytest.raises(httpx.RemoteProtocolError, match=error):
        client.get(URL)
    assert stream.closed


def test_network_errors_come_out_as_httpx_errors_naming_the_request():
    stream = FakeStream([httpcore.ReadTimeout("timed out")])
    client, _ = client_over(stream)
    with pytest.raises(httpx.ReadTimeout) as raised:
        client.get(URL)
    assert raised.value.request.url == URL and stream.closed


@pytest.mark.parametrize("value", ["sk-1\nX-Evil: 1", "sk-1\r", "sk-\r\n"])
def test_a_header_with_a_line_break_is_refused_without_echoing_it(value):
    client, backend = client_over(FakeStream([OK]))
    with pytest.raises(httpx.LocalProtocolError) as raised:
        client.get(URL, headers={"Authorization": f"Bearer {value}"})
    assert "sk-" not in str(raised.value) and backend.opened == []


def test_an_unsupported_scheme_is_refused():
    client, backend = client_over()
    with pytest.raises(httpx.UnsupportedProtocol):
        client.get("ftp://provider.test/x")
    assert backend.opened == []


def _splits(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:], strict=False) if b > a]


_names = st.text("abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12).filter(
    lambda n: n.lower() not in {"content-length", "transfer-encoding", "connection"}
)
_values = st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=30)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    status=st.integers(200, 599).filter(lambda s: s not in (204, 304)),
    headers=st.lists(st.tuples(_names, _values), max_size=8),
    body=st.binary(max_size=300),
    chunk_sizes=st.lists(st.integers(1, 50), max_size=10),
    chunked=st.booleans(),
    cuts=st.lists(st.integers(0, 10_000), max_size=12),
)
def test_any_answer_cut_anywhere_reads_back_whole(
    status, headers, body, chunk_sizes, chunked, cuts
):
    """However TCP cuts the bytes, the status, headers and body come out as they were sent,
    and the connection is kept for the next call."""
    head = [b"HTTP/1.1 %d Whatever" % status] + [
        b"%s: %s" % (n.encode(), v.encode()) for n, v in headers
    ]
    if chunked:
        head.append(b"Transfer-Encoding: chunked")
        pieces, rest = [], body
        for size in chunk_sizes or [len(body) or 1]:
            if rest:
                pieces.append(b"%x\r\n%s\r\n" % (len(rest[:size]), rest[:size]))
                rest = rest[size:]
        if rest:
            pieces.append(b"%x\r\n%s\r\n" % (len(rest), rest))
        framed = b"".join(pieces) + b"0\r\n\r\n"
    else:
        head.append(b"Content-Length: %d" % len(body))
        framed = body
    wire = b"\r\n".join(head) + b"\r\n\r\n" + framed
    stream = FakeStream(_splits(wire, cuts))
    client, _ = client_over(stream)
    with client.stream("GET", URL) as r:
        got = r.read()
    assert (r.status_code, got) == (status, body)
    assert [(n.encode(), v.encode().strip()) for n, v in headers] == r.headers.raw[: len(headers)]
    assert not stream.closed  # read to its end: back in the pool
