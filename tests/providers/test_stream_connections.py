"""A finished stream gives its connection back: the next stream reuses it instead of paying new
TCP (and TLS) handshakes, unless the server does not end the body after [DONE]."""

from __future__ import annotations

import socket
import threading
import time

from llmfallback.core.stream_events import Delta, StreamEnd
from llmfallback.core.types import Timeouts
from llmfallback.providers.stream_reader import DRAIN_S
from tests.providers.helpers import hello
from tests.providers.test_stalls import client, provider, read_request, serve  # noqa: F401

TIMEOUTS = Timeouts(connect=2.0, read=2.0, total=5.0)
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
EVENTS = [
    b'data: {"id":"c1","model":"deepseek-chat","choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n',
    b'data: {"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n',
    b"data: [DONE]\n\n",
]


def chunk(data: bytes) -> bytes:
    return b"%X\r\n%s\r\n" % (len(data), data)


def keep_alive_server(*, hold_after_done: float = 0.0):
    """Answers every request on a connection with an SSE stream; counts connections."""
    connections = []

    def handle(conn: socket.socket, stopped: threading.Event) -> None:
        connections.append(conn)
        while not stopped.is_set():
            try:
                read_request(conn)
            except (AttributeError, OSError):
                return  # the client closed the connection
            conn.sendall(HEAD + b"".join(chunk(e) for e in EVENTS))
            if hold_after_done and stopped.wait(hold_after_done):
                return
            conn.sendall(b"0\r\n\r\n")

    return handle, connections


def streamed(p) -> list:
    return list(
        p.stream(hello(), key=p.keys[0] if p.keys else _key(), timeouts=TIMEOUTS, stall_s=5.0)
    )


def _key():
    from llmfallback.core.types import ApiKey

    return ApiKey("k1", "sk-test")


def test_streams_one_after_another_share_one_connection(serve, client):  # noqa: F811
    handle, connections = keep_alive_server()
    p = provider(f"http://127.0.0.1:{serve(handle).port}", client)
    for _ in range(3):
        events = streamed(p)
        assert [e.content for e in events if isinstance(e, Delta)] == ["Hi"]
        assert isinstance(events[-1], StreamEnd) and events[-1].finish_reason == "stop"
    assert len(connections) == 1


def test_a_body_held_open_after_done_costs_its_connection_not_the_answer(serve, client):  # noqa: F811
    handle, connections = keep_alive_server(hold_after_done=5.0)
    p = provider(f"http://127.0.0.1:{serve(handle).port}", client)
    started = time.monotonic()
    events = streamed(p)
    assert time.monotonic() - started < DRAIN_S + 1.0  # not the 5 s the server holds it
    assert isinstance(events[-1], StreamEnd)
    streamed(p)
    assert len(connections) == 2  # the held connection was given up, a new one opened
