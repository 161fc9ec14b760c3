"""A stream's head, role chunk and first token leave in one packet (llmfallback/http/wire.py):
the socket is corked until the first token has been handed to the server, never longer, and
nothing changes where there is no TCP socket to cork."""

import socket
from contextlib import contextmanager

import pytest

from llmfallback.core.errors import ProviderTimeout
from llmfallback.core.stream_events import Delta, StreamDone, StreamFailed, StreamStart
from llmfallback.core.types import Usage
from llmfallback.http import sse, wire
from tests.v1.conftest import ask

pytestmark = pytest.mark.skipif(not hasattr(socket, "TCP_CORK"), reason="TCP_CORK is Linux's")

START = StreamStart("groq", "llama-3.3-70b-versatile", "k1", ())


@contextmanager
def tcp_pair():
    """A connected loopback TCP pair: (the server's side, the client's side)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    with server, client:
        yield server, client


def corked(sock) -> bool:
    return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_CORK))


def test_the_cork_holds_until_released_and_release_is_idempotent():
    with tcp_pair() as (server, _):
        cork = wire.FirstTokenCork(server)
        assert cork.holding and corked(server)
        cork.release()
        assert not cork.holding and not corked(server)
        cork.release()  # the stream's end releases again: harmless
        assert not corked(server)


def test_no_tcp_socket_means_no_cork_and_no_error():
    assert not wire.FirstTokenCork(None).holding
    assert not wire.FirstTokenCork.for_request({}).holding  # runserver, the test client
    a, b = socket.socketpair()  # gunicorn bound to a Unix socket
    with a, b:
        cork = wire.FirstTokenCork(a)
        assert not cork.holding
        cork.release()


def test_a_connection_already_gone_is_released_quietly():
    with tcp_pair() as (server, _):
        cork = wire.FirstTokenCork(server)
    cork.release()  # closed under it: nothing left to send, nothing raised


def test_released_once_the_first_token_is_taken_not_before():
    calls = []
    events = [Delta(" "), Delta("Hi"), Delta(" there"), StreamDone("stop", Usage(1, 2, 3), ())]
    out = sse.chunks(
        START, iter(events), include_usage=False, first_token_out=lambda: calls.append(True)
    )
    assert b'"role":"assistant"' in next(out) and not calls
    assert b'"content":" "' in next(out) and not calls  # whitespace is not the first token
    assert b'"content":"Hi"' in next(out) and not calls  # the server has not taken it yet
    assert b'"content":" there"' in next(out) and calls  # it asked for more: Hi is out
    list(out)


@pytest.mark.parametrize(
    "events",
    [
        [StreamFailed(ProviderTimeout("stream stalled"), ())],  # no token at all
        [Delta(" ")],  # events that stop without an end
    ],
    ids=["failed", "cut"],
)
def test_released_at_the_end_of_a_stream_that_never_had_a_token(events):
    calls = []
    out = sse.chunks(
        START, iter(events), include_usage=False, first_token_out=lambda: calls.append(1)
    )
    list(out)
    assert calls


def test_released_when_the_agent_leaves_before_the_first_token_is_out():
    calls = []

    def events():
        yield Delta(" ")
        yield Delta("Hi")

    out = sse.chunks(START, events(), include_usage=False, first_token_out=lambda: calls.append(1))
    next(out), next(out)
    out.close()  # the server closes the response: the agent hung up
    assert calls


def test_released_when_the_server_closes_the_stream_after_its_first_item():
    """gunicorn's write of the head and role chunk failed (the agent is gone): it closes the
    response with the role chunk taken and nothing else asked for."""
    calls = []
    out = sse.chunks(
        START, iter([Delta("Hi")]), include_usage=False, first_token_out=lambda: calls.append(1)
    )
    next(out)
    out.close()
    assert calls


def test_through_the_view_the_head_and_first_token_leave_together(chat, agent):
    """As gunicorn serves it: the socket comes in the environ, the view corks it, and the
    first token's chunk is the last thing written before the release."""
    with tcp_pair() as (server, client):
        r = agent.post(
            "/v1/chat/completions", ask(stream=True), format="json", **{"gunicorn.socket": server}
        )
        assert r.status_code == 200 and corked(server)  # the head is not out yet either
        items = iter(r.streaming_content)
        written = []
        for item in items:
            server.sendall(item)  # what gunicorn does with each item
            written.append(item)
            if b'"content":"[groq]"' in item:
                break
        assert corked(server)  # the token is written but still held with the head
        rest = next(items)  # the server asks for more: the first packet leaves
        assert not corked(server)
        client.settimeout(5)
        first = client.recv(65536)
        assert first == b"".join(written)  # held, not lost: all of it leaves on release
        server.sendall(rest)
        list(items)
