"""d8site/agent_socket.py: a socket whose timeout lives in Python behaves, to gunicorn and the
relay, as CPython's socket with that timeout, while its descriptor stays non-blocking."""

from __future__ import annotations

import hashlib
import os
import select
import socket
import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from d8site.agent_socket import AgentSocket

SHORT = 0.05  # a timeout the tests wait out: long enough to tell apart from no wait at all


@pytest.fixture
def pair():
    """(an AgentSocket accepted from a loopback listener, the client's plain socket)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = AgentSocket.accept_from(listener)
    yield server, client
    server.close()
    client.close()


MODES = st.lists(
    st.one_of(
        st.tuples(st.just("settimeout"), st.none() | st.floats(0, 1e9) | st.integers(0, 10**6)),
        st.tuples(st.just("setblocking"), st.booleans()),
    ),
    max_size=8,
)


@given(MODES)
def test_the_timeout_reads_back_as_a_plain_sockets_does(changes):
    plain, ours = socket.socket(), AgentSocket()
    try:
        for method, value in changes:
            getattr(plain, method)(value)
            getattr(ours, method)(value)
            assert (ours.gettimeout(), ours.getblocking()) == (
                plain.gettimeout(),
                plain.getblocking(),
            )
            assert not os.get_blocking(ours.fileno())  # the descriptor never changes mode
    finally:
        plain.close()
        ours.close()


@pytest.mark.parametrize("bad", [-1, -0.5, float("nan"), 1e300, 10**30, "1", object()])
def test_a_bad_timeout_is_refused_as_a_plain_socket_refuses_it(bad):
    plain, ours = socket.socket(), AgentSocket()
    try:
        with pytest.raises(Exception) as expected:
            plain.settimeout(bad)
        with pytest.raises(expected.type):
            ours.settimeout(bad)
        assert ours.gettimeout() is None  # unchanged
    finally:
        plain.close()
        ours.close()


def test_accept_keeps_the_address_and_the_socket_kind(pair):
    server, client = pair
    assert server.getpeername() == client.getsockname()
    assert (server.family, server.type) == (socket.AF_INET, socket.SOCK_STREAM)


def test_non_blocking_raises_at_once_and_a_timeout_waits_it_out(pair):
    server, client = pair
    server.setblocking(False)
    with pytest.raises(BlockingIOError):
        server.recv(10)
    server.settimeout(SHORT)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        server.recv(10)
    assert time.monotonic() - started >= SHORT * 0.9
    client.sendall(b"late")
    assert server.recv(10) == b"late"


def test_blocking_waits_for_data_however_long_it_takes(pair):
    server, client = pair
    server.setblocking(True)
    threading.Timer(SHORT, client.sendall, [b"hello"]).start()
    buf = bytearray(16)
    assert server.recv_into(buf) == 5
    assert bytes(buf[:5]) == b"hello"
    client.close()
    assert server.recv(10) == b""  # the peer's close reads as it always does


def test_sendall_to_a_peer_that_reads_nothing_times_out_once_for_the_whole(pair):
    server, _client = pair
    server.settimeout(SHORT)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        server.sendall(b"x" * (64 << 20))  # far more than both kernels' buffers
    assert SHORT * 0.9 <= time.monotonic() - started < 5


def test_sendall_to_a_slow_reader_delivers_every_byte_in_order(pair):
    server, client = pair
    server.settimeout(10)
    data = os.urandom(8 << 20)
    received = hashlib.sha256()

    def read_slowly():
        left = len(data)
        while left:
            chunk = client.recv(256 << 10)
            received.update(chunk)
            left -= len(chunk)
            time.sleep(0.001)

    reader = threading.Thread(target=read_slowly)
    reader.start()
    server.sendall(memoryview(data))
    reader.join(30)
    assert received.digest() == hashlib.sha256(data).digest()


def test_sendfile_sends_a_whole_file_with_a_timeout_or_blocking(pair, tmp_path):
    server, client = pair
    path = tmp_path / "f"
    path.write_bytes(os.urandom(3 << 20))
    for timeout in (10.0, None):
        server.settimeout(timeout)
        got = bytearray()
        reader = threading.Thread(target=_read_exactly, args=(client, 3 << 20, got))
        reader.start()
        with path.open("rb") as f:
            assert server.sendfile(f) == 3 << 20
        reader.join(30)
        assert bytes(got) == path.read_bytes()


def test_a_reset_connection_raises_the_same_error_as_ever(pair):
    server, client = pair
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    client.close()  # RST
    server.settimeout(1)
    with pytest.raises(ConnectionResetError):
        server.recv(10)


def _read_exactly(sock: socket.socket, n: int, into: bytearray) -> None:
    while len(into) < n:
        chunk = sock.recv(1 << 20)
        if not chunk:
            return
        into += chunk


def _nothing_waiting(sock: socket.socket) -> bool:
    return not select.select([sock], [], [], 0.05)[0]


def test_a_held_head_goes_out_with_the_body_in_one_send(pair):
    server, client = pair
    server.settimeout(5)
    server.hold_next()
    server.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
    assert _nothing_waiting(client)  # held
    server.sendall(b"body")
    client.settimeout(5)
    assert client.recv(100) == b"HTTP/1.1 200 OK\r\n\r\nbody"
    server.sendall(b"more")  # one head per hold_next()
    assert client.recv(100) == b"more"


def test_a_head_with_nothing_after_it_goes_out_at_let_go(pair):
    server, client = pair
    server.settimeout(5)
    server.hold_next()
    server.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
    server.let_go()
    server.let_go()  # twice: nothing more
    client.settimeout(5)
    assert client.recv(100) == b"HTTP/1.1 204 No Content\r\n\r\n"
    assert _nothing_waiting(client)


@pytest.mark.parametrize("then", ["send", "sendfile", "large sendall", "shutdown", "non-blocking"])
def test_every_other_write_sends_the_held_head_first(pair, tmp_path, then):
    server, client = pair
    server.settimeout(5)
    server.hold_next()
    server.sendall(b"HEAD|")
    large = b"x" * (1 << 20)
    if then == "send":
        server.send(b"tail")
        expected = b"HEAD|tail"
    elif then == "sendfile":
        (tmp_path / "f").write_bytes(b"file")
        with (tmp_path / "f").open("rb") as f:
            server.sendfile(f)
        expected = b"HEAD|file"
    elif then == "large sendall":
        reader = threading.Thread(
            target=_read_exactly, args=(client, 5 + len(large), got := bytearray())
        )
        reader.start()
        server.sendall(large)
        reader.join(10)
        assert bytes(got) == b"HEAD|" + large
        return
    elif then == "shutdown":
        server.shutdown(socket.SHUT_WR)
        expected = b"HEAD|"
    else:  # the stream relay goes non-blocking and sends: the head still comes first, whole
        server.setblocking(False)
        server.send(b"tail")
        expected = b"HEAD|tail"
    got = bytearray()
    _read_exactly(client, len(expected), got)
    assert bytes(got) == expected


def test_a_sendall_on_a_non_blocking_socket_says_it_would_block(pair):
    server, _client = pair
    server.setblocking(False)
    with pytest.raises(BlockingIOError):
        server.sendall(b"x" * (64 << 20))
