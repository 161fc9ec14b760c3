"""The stream relay (d8site/relay.py): one loop thread carries many streams at once, each stream's
provider reads wait through it, and every stall still ends where it ended under a thread."""

from __future__ import annotations

import contextvars
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpcore
import httpx
import pytest

from d8site.relay import Job, RelayLoop
from llmfallback.providers import cooperative
from llmfallback.providers.budget import attempt_budget
from llmfallback.providers.transport import DeadlineBackend, build_client
from tests.providers.test_stalls import tls  # noqa: F401 - a throwaway certificate

pytestmark = pytest.mark.no_database  # sockets and threads only: CI's SQLite pass runs it

RAN_IN: set[str] = set()  # the threads upstream_items ran in


def upstream_items(sock: socket.socket, timeout: float = 5.0):
    """What a provider stream is to the relay: items made from reads of a socket."""
    while True:
        RAN_IN.add(threading.current_thread().name)
        wait = cooperative.waiter()
        assert wait is not None, "a relayed stream's reads must go through the loop"
        data = cooperative.recv(wait, sock, 4096, timeout)
        if not data:
            return
        yield data.upper()


def relay_in_thread(loop: RelayLoop, items, sock, *, chunked=True):
    """A request thread handing `items` to the loop: (thread, job, the error it raised)."""
    job = Job(items, sock, chunked=chunked)
    raised = []

    def run():
        try:
            loop.run(job)
        except BaseException as e:  # noqa: BLE001
            raised.append(e)

    thread = threading.Thread(target=run, daemon=True)  # a stuck relay fails, never hangs
    thread.start()
    return thread, job, raised


def read_until(sock: socket.socket, end: bytes, timeout: float = 10) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while not data.endswith(end):
        more = sock.recv(65536)
        assert more, data
        data += more
    return data


def test_one_loop_thread_relays_many_streams_interleaved():
    loop, n = RelayLoop(), 60
    pairs = [(socket.socketpair(), socket.socketpair()) for _ in range(n)]
    RAN_IN.clear()
    runs = [
        relay_in_thread(loop, upstream_items(up_near), agent_near)
        for (up_near, _), (agent_near, _) in pairs
    ]
    for round_ in range(3):  # each stream's n-th token only after every stream's (n-1)-th
        for i, ((_, up_far), (_, agent_far)) in enumerate(pairs):
            up_far.sendall(b"tok%d-%d|" % (i, round_))
            expected = b"TOK%d-%d|" % (i, round_)
            frame = b"%X\r\n%s\r\n" % (len(expected), expected)
            assert read_until(agent_far, b"\r\n") == frame
    # Every stream's reads ran in the one loop thread; the request threads only waited.
    assert RAN_IN == {"d8-relay"}
    for (_, up_far), _ in pairs:
        up_far.close()
    for i, (thread, job, raised) in enumerate(runs):
        thread.join(5)
        assert not raised
        assert job.sent == sum(len(b"TOK%d-%d|" % (i, r)) for r in range(3))
    assert loop.streams == 0


def test_the_request_thread_lets_go_of_what_it_holds_before_it_sleeps():
    """before_wait runs in the request's own thread, before the stream is relayed (d8site/wsgi.py
    gives back the thread's database connection there); a hook that fails stops no stream."""
    seen = []

    def hook():
        seen.append((threading.current_thread().name, list(RAN_IN)))
        raise RuntimeError("the database is gone")

    loop = RelayLoop(before_wait=hook)
    (up, up_far), (agent, agent_far) = socket.socketpair(), socket.socketpair()
    RAN_IN.clear()
    thread, job, raised = relay_in_thread(loop, upstream_items(up), agent, chunked=False)
    up_far.sendall(b"still streamed")
    assert read_until(agent_far, b"STILL STREAMED") == b"STILL STREAMED"
    up_far.close()
    thread.join(5)
    assert not raised
    assert seen == [(thread.name, [])]  # the request's thread, before any of the stream ran


def test_a_silent_provider_times_out_in_the_stream_alone():
    loop = RelayLoop()
    (stuck, _stuck_far), (agent, _agent_far) = socket.socketpair(), socket.socketpair()
    (live, live_far), (agent2, agent2_far) = socket.socketpair(), socket.socketpair()
    started = time.monotonic()
    t1, _, raised = relay_in_thread(loop, upstream_items(stuck, timeout=0.3), agent)
    t2, job2, raised2 = relay_in_thread(loop, upstream_items(live), agent2, chunked=False)
    live_far.sendall(b"still here")
    assert read_until(agent2_far, b"STILL HERE") == b"STILL HERE"
    t1.join(5)
    assert isinstance(raised[0], httpcore.ReadTimeout)
    assert 0.25 <= time.monotonic() - started < 2
    live_far.close()
    t2.join(5)
    assert not raised2 and job2.sent == len(b"STILL HERE")


def test_an_agent_that_stops_reading_is_dropped_and_the_others_flow():
    loop = RelayLoop()
    agent, agent_far = socket.socketpair()
    agent.settimeout(0.3)  # gunicorn's bound on one send (6 × WEB_READ_TIMEOUT_S)

    def endless():
        while True:
            yield b"x" * 65536

    thread, _, raised = relay_in_thread(loop, endless(), agent)
    (up, up_far), (agent2, agent2_far) = socket.socketpair(), socket.socketpair()
    t2, _, _ = relay_in_thread(loop, upstream_items(up), agent2, chunked=False)
    up_far.sendall(b"meanwhile")
    assert read_until(agent2_far, b"MEANWHILE") == b"MEANWHILE"
    thread.join(5)
    assert isinstance(raised[0], TimeoutError)
    assert agent.gettimeout() == 0.3  # given back as gunicorn set it, for its last chunk
    up_far.close()
    t2.join(5)
    agent_far.close()


def test_a_socket_a_timed_out_wait_left_armed_wakes_no_one_else():
    """A wait its deadline ended leaves its socket registered: when bytes come later, and when
    the socket is closed and its number reused by another stream's, each stream is woken for
    its own socket alone."""
    loop = RelayLoop()
    stuck, stuck_far = socket.socketpair()
    agent, _agent_far = socket.socketpair()
    t1, _, raised = relay_in_thread(loop, upstream_items(stuck, timeout=0.2), agent)
    t1.join(5)
    assert isinstance(raised[0], httpcore.ReadTimeout)
    stuck_far.sendall(b"late")  # the armed registration fires; nobody waits on it
    number = stuck.fileno()
    stuck.close()
    reused, fresh_far = socket.socketpair()  # the lowest free number: most likely that one
    if reused.fileno() != number:  # else put it there
        os.dup2(reused.fileno(), number)
        reused.close()
        reused = socket.socket(fileno=number)
    agent2, agent2_far = socket.socketpair()
    t2, job2, raised2 = relay_in_thread(loop, upstream_items(reused), agent2, chunked=False)
    time.sleep(0.1)
    fresh_far.sendall(b"mine")
    assert read_until(agent2_far, b"MINE") == b"MINE"
    fresh_far.close()
    t2.join(5)
    assert not raised2 and job2.sent == len(b"MINE")


def test_an_error_in_the_stream_is_raised_in_the_request_thread():
    loop = RelayLoop()
    agent, _agent_far = socket.socketpair()

    def broken():
        yield b"one"
        raise ValueError("a bug mid-stream")

    thread, _, raised = relay_in_thread(loop, broken(), agent)
    thread.join(5)
    assert isinstance(raised[0], ValueError)


def test_the_stream_runs_in_the_request_threads_context():
    """A ContextVar set before the hand-off is seen after it, and a token made in the request's
    thread can be reset in the loop (a budget held across the hand-off)."""
    var = contextvars.ContextVar("var", default="unset")
    loop = RelayLoop()
    seen = []

    def items():
        token = var.set("in the request")
        yield b"first"  # still in the request's thread (Relayed sends it)
        seen.append(var.get())
        var.reset(token)
        seen.append(var.get())
        yield b"second"

    agent, agent_far = socket.socketpair()
    it = items()
    assert next(it) == b"first"
    loop.run(Job(it, agent, chunked=False))
    assert seen == ["in the request", "unset"]
    assert read_until(agent_far, b"second") == b"second"


def test_many_request_threads_hand_over_at_once():
    loop = RelayLoop()

    def one(i):
        agent, agent_far = socket.socketpair()
        loop.run(Job(iter([b"a%d" % i, b"b%d" % i]), agent, chunked=False))
        return read_until(agent_far, b"b%d" % i)

    with ThreadPoolExecutor(32) as pool:
        assert list(pool.map(one, range(200))) == [b"a%db%d" % (i, i) for i in range(200)]


# --- a provider call made inside the loop (a fail-over mid-stream) ---------------------------


def in_loop(loop: RelayLoop, work):
    """`work()` run as a relayed stream's code: its result, or what it raised."""
    agent, _far = socket.socketpair()
    out = []

    def items():
        out.append(work())
        yield b""

    try:
        loop.run(Job(items(), agent, chunked=False))
    except BaseException as e:  # noqa: BLE001
        return e
    return out[0]


def test_a_provider_call_inside_the_loop_connects_writes_and_reads_without_blocking_it():
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve():
        conn, _ = server.accept()
        conn.recv(65536)
        time.sleep(0.3)  # the provider thinks: the loop must carry another stream meanwhile
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    loop = RelayLoop()
    client = build_client()
    (up, up_far), (agent, agent_far) = socket.socketpair(), socket.socketpair()
    other, _, _ = relay_in_thread(loop, upstream_items(up), agent, chunked=False)

    def call():
        with attempt_budget(5):
            return client.post(f"http://127.0.0.1:{port}/v1/chat", content=b"{}").text

    result = []
    caller = threading.Thread(target=lambda: result.append(in_loop(loop, call)), daemon=True)
    caller.start()
    time.sleep(0.05)
    up_far.sendall(b"served while the provider thinks")
    assert read_until(agent_far, b"THINKS", timeout=0.25)
    caller.join(5)
    assert result == ["ok"]
    up_far.close()
    other.join(5)


def test_connect_refused_and_slow_names_keep_their_errors_inside_the_loop():
    loop = RelayLoop()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there

    def refused():
        with attempt_budget(2):
            return DeadlineBackend().connect_tcp("127.0.0.1", port)

    assert isinstance(in_loop(loop, refused), httpcore.ConnectError)

    def slow_resolver(*args):
        time.sleep(1)
        return []

    def slow_name():
        with attempt_budget(0.2):
            return DeadlineBackend(slow_resolver).connect_tcp("provider.example", 443)

    started = time.monotonic()
    error = in_loop(loop, slow_name)
    assert isinstance(error, httpcore.ConnectTimeout), error
    assert time.monotonic() - started < 0.8


def test_a_tls_provider_inside_the_loop(tls):  # noqa: F811
    server_ctx, client_ctx = tls
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve():
        raw, _ = server.accept()
        with server_ctx.wrap_socket(raw, server_side=True) as conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecret")

    threading.Thread(target=serve, daemon=True).start()
    client = build_client(verify=client_ctx)

    def call():
        with attempt_budget(5):
            return client.get(f"https://127.0.0.1:{port}/").text

    assert in_loop(RelayLoop(), call) == "secret"


def test_a_tls_provider_that_never_finishes_its_handshake_times_out(tls):  # noqa: F811
    _, client_ctx = tls
    server = socket.create_server(("127.0.0.1", 0))  # accepts, then says nothing
    port = server.getsockname()[1]
    client = build_client(verify=client_ctx)

    def call():
        with attempt_budget(0.3):
            return client.get(f"https://127.0.0.1:{port}/")

    started = time.monotonic()
    error = in_loop(RelayLoop(), call)
    assert isinstance(error, httpx.ConnectTimeout), error
    assert time.monotonic() - started < 2
    server.close()


class CountingSocket(socket.socket):
    """A socket that remembers each send."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sends: list[bytes] = []

    def send(self, data, *flags):
        self.sends.append(bytes(data))
        return super().send(data, *flags)


def test_tokens_read_together_go_to_the_agent_in_one_send():
    """One send per provider read, not per token, from the first item the loop takes: the
    request thread has already sent the first token (the corked head's company)."""
    near, agent_far = socket.socketpair()
    agent = CountingSocket(near.family, near.type, fileno=near.detach())
    up, up_far = socket.socketpair()

    def items():
        yield b"before-1"
        yield b"before-2"
        for data in upstream_items(up):
            yield from (part for part in data.split(b"|") if part)

    thread, job, raised = relay_in_thread(RelayLoop(), items(), agent, chunked=False)
    time.sleep(0.2)  # the stream waits for its provider by now
    up_far.sendall(b"a|b|c|")  # three tokens in one read
    assert read_until(agent_far, b"C") == b"before-1before-2ABC"
    up_far.close()
    thread.join(5)
    assert not raised and job.sent == len(b"before-1before-2ABC")
    assert agent.sends == [b"before-1before-2", b"ABC"]


def test_an_agent_gone_while_its_stream_waits_ends_the_stream_not_the_provider():
    """The send before a provider wait fails: the stream ends at once, through its `finally`,
    and no provider error is raised for it (no fail-over for a caller who left)."""
    agent, agent_far = socket.socketpair()
    up, up_far = socket.socketpair()
    seen = []

    def items():
        yield b"first"
        try:
            for data in upstream_items(up):
                yield data
                yield data  # pending when the stream next waits
        except Exception as e:  # noqa: BLE001 - what a provider's error handling would see
            seen.append(e)
        finally:
            seen.append("closed")

    thread, _, raised = relay_in_thread(RelayLoop(), items(), agent, chunked=False)
    assert read_until(agent_far, b"first") == b"first"
    up_far.sendall(b"x")
    time.sleep(0.2)
    agent_far.close()  # gone: the pending "XX" cannot go
    up_far.sendall(b"y")
    thread.join(5)
    assert isinstance(raised[0], BrokenPipeError)  # what gunicorn's own send would have raised
    assert seen == ["closed"]


def test_blocking_bookkeeping_runs_off_the_loop_while_other_streams_flow():
    """off_loop: a stream's slow query (here a sleep) waits in a pool thread, not on the loop."""
    from llmfallback.off_loop import off_loop

    @off_loop
    def slow_query(x):
        time.sleep(0.4)
        if x < 0:
            raise ValueError("bad")
        return x * 2, threading.current_thread().name

    assert slow_query(1) == (2, threading.current_thread().name)  # elsewhere: in place
    loop = RelayLoop()
    (up, up_far), (agent, agent_far) = socket.socketpair(), socket.socketpair()
    other, _, _ = relay_in_thread(loop, upstream_items(up), agent, chunked=False)
    result = []
    caller = threading.Thread(
        target=lambda: result.append(in_loop(loop, lambda: slow_query(21))), daemon=True
    )
    caller.start()
    time.sleep(0.05)
    up_far.sendall(b"flowing")
    assert read_until(agent_far, b"FLOWING", timeout=0.3)  # while the query sleeps
    caller.join(5)
    value, thread = result[0]
    assert value == 42 and thread.startswith("d8-off-loop")
    assert isinstance(in_loop(loop, lambda: slow_query(-1)), ValueError)
    up_far.close()
    other.join(5)


def test_a_retry_wait_inside_the_loop_lets_the_other_streams_flow():
    loop = RelayLoop()
    (up, up_far), (agent, agent_far) = socket.socketpair(), socket.socketpair()
    other, _, _ = relay_in_thread(loop, upstream_items(up), agent, chunked=False)
    slept = []
    caller = threading.Thread(
        target=lambda: slept.append(in_loop(loop, lambda: cooperative.sleep(0.4) or "slept")),
        daemon=True,
    )
    started = time.monotonic()
    caller.start()
    time.sleep(0.05)
    up_far.sendall(b"meanwhile")
    assert read_until(agent_far, b"MEANWHILE", timeout=0.3)
    caller.join(5)
    assert slept == ["slept"] and time.monotonic() - started >= 0.4
    up_far.close()
    other.join(5)


def test_timers_of_waits_their_socket_ended_do_not_pile_up():
    loop = RelayLoop()
    up, up_far = socket.socketpair()
    agent, agent_far = socket.socketpair()
    thread, job, raised = relay_in_thread(loop, upstream_items(up, timeout=60), agent)
    for _ in range(3000):  # each token ends a wait that left a 60 s timer behind
        up_far.sendall(b"t")
        read_until(agent_far, b"T\r\n")
    assert len(loop._timers) <= 4 * 2 + 1024 + 1
    up_far.close()
    thread.join(5)
    assert not raised and job.sent == 3000


def test_a_stream_is_handed_to_the_loop_only_once_its_first_token_is_out():
    """Relayed: the head, the role chunk and the first token leave from the request's thread (the
    relay adds nothing to the time to the first token); the loop takes over after the cork."""
    from types import SimpleNamespace

    from d8site.relay_wsgi import Relayed

    cork = SimpleNamespace(holding=True)
    made_in = []

    def items():
        for name in (b"role", b"token-1", b"token-2", b"token-3"):
            made_in.append((name, threading.current_thread().name))
            yield name
            if name == b"token-1":
                cork.holding = False  # as sse.chunks releases it when asked for the next item

    agent, agent_far = socket.socketpair()
    resp = SimpleNamespace(sock=agent, chunked=False, sent=0)
    sent_by_gunicorn = list(Relayed(items(), resp, RelayLoop(), cork))
    here = threading.current_thread().name
    assert sent_by_gunicorn == [b"role", b"token-1", b"token-2"]
    assert made_in == [
        (b"role", here),
        (b"token-1", here),
        (b"token-2", here),
        (b"token-3", "d8-relay"),
    ]
    assert read_until(agent_far, b"token-3") == b"token-3" and resp.sent == len(b"token-3")


def test_the_relay_reads_the_cork_where_the_faces_leave_it():
    from d8site import relay_wsgi
    from llmfallback.http import wire

    assert relay_wsgi.FIRST_TOKEN_CORK == wire.ENVIRON_KEY
