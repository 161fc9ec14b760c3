"""A stuck provider costs one bounded wait, whatever phase it stalls in (real loopback sockets).

Each server stalls in one phase: connect, TLS, headers, body, the request write, or DNS. The
call must raise ProviderTimeout naming that phase within its budget plus SLACK. Real waits are
short (under a second each) because only real sockets show these stalls.
"""

import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable

import pytest

from llmfallback.core.errors import ProviderTimeout
from llmfallback.core.types import ChatRequest, Timeouts
from llmfallback.providers import OpenAICompatible
from llmfallback.providers.transport import build_client
from tests.providers.helpers import GROQ_KEY, fixture, hello

SLACK = 0.5  # scheduling on a busy 2-core machine, not a tolerance of the budget
TICK = 0.1  # how often the stalling servers send their next useless line
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"


class Server:
    """Loopback TCP server running `handle(conn, stopped)` per connection on daemon threads."""

    def __init__(self, handle: Callable) -> None:
        self.handle = handle
        self.stopped = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(TICK)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        with conn:
            try:
                self.handle(conn, self.stopped)
            except OSError:
                pass  # the client gave up: that is the point

    def close(self) -> None:
        self.stopped.set()
        self.sock.close()


def every_tick(stopped: threading.Event, seconds: float = 20.0):
    """Yield every TICK until the test ends (or a hard cap, so no server outlives a run)."""
    for _ in range(int(seconds / TICK)):
        if stopped.wait(TICK):
            return
        yield


def read_request(conn: socket.socket) -> None:
    """Read the whole request: closing with unread bytes would reset the connection."""
    conn.settimeout(2)
    data = b""
    while b"\r\n\r\n" not in data and (chunk := conn.recv(65536)):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
    while len(body) < length and (chunk := conn.recv(65536)):
        body += chunk


@pytest.fixture
def serve():
    servers = []

    def start(handle) -> Server:
        servers.append(Server(handle))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def client():
    with build_client() as c:
        yield c


def provider(base_url: str, client) -> OpenAICompatible:
    return OpenAICompatible(
        name="deepseek", base_url=base_url, model="deepseek-chat", client=client
    )


def stalls(p: OpenAICompatible, timeouts: Timeouts, request=None) -> tuple[float, str]:
    """Call once; return how long it took to raise ProviderTimeout and its message."""
    started = time.monotonic()
    with pytest.raises(ProviderTimeout) as info:
        p.chat(request or hello(), key=GROQ_KEY, timeouts=timeouts)
    return time.monotonic() - started, str(info.value)


def silent(conn: socket.socket, stopped: threading.Event) -> None:
    for _ in every_tick(stopped):
        pass


def answering(conn: socket.socket, stopped: threading.Event) -> None:
    read_request(conn)
    conn.sendall(HEAD + fixture("deepseek_text.json"))


def drain_slowly(conn: socket.socket, stopped: threading.Event) -> None:
    for _ in every_tick(stopped):  # steady progress: no single send waits long
        conn.recv(256 * 1024)


# -- connect, TLS, DNS ----------------------------------------------------------------------


@pytest.fixture
def full_backlog():
    """A listener that never accepts, its queue full: the kernel drops further SYNs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    address = listener.getsockname()
    fillers = []
    for _ in range(8):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(address)
        fillers.append(s)
    probe = socket.socket()
    probe.settimeout(0.2)
    with pytest.raises(TimeoutError):  # the stall this test relies on is real
        probe.connect(address)
    probe.close()
    yield address
    for s in [*fillers, listener]:
        s.close()


def test_a_connect_that_stalls_costs_one_budget(full_backlog, client):
    host, port = full_backlog
    took, message = stalls(provider(f"http://{host}:{port}", client), Timeouts(5, 5, total=0.7))
    assert took < 0.7 + SLACK
    assert message.startswith("connect timed out")


def test_a_server_that_never_answers_the_tls_hello_costs_one_budget(serve, client):
    server = serve(silent)
    p = provider(f"https://127.0.0.1:{server.port}", client)
    took, message = stalls(p, Timeouts(connect=5, read=5, total=0.7))
    assert took < 0.7 + SLACK
    assert message.startswith("tls timed out")


def test_a_tls_handshake_trickled_a_byte_at_a_time_costs_one_budget(serve, client):
    def trickle_server_hello(conn, stopped):
        conn.recv(65536)  # the ClientHello
        conn.sendall(b"\x16\x03\x03\x40\x00")  # a 16 KiB handshake record follows...
        for _ in every_tick(stopped):
            conn.sendall(b"\x00")  # ...one byte at a time, each well within the timeout

    server = serve(trickle_server_hello)
    p = provider(f"https://127.0.0.1:{server.port}", client)
    took, message = stalls(p, Timeouts(connect=5, read=5, total=0.7))
    assert took < 0.7 + SLACK
    assert message.startswith("tls timed out")


def test_a_dns_lookup_that_stalls_costs_one_budget(serve):
    released = threading.Event()

    def stuck_resolver(host, port, *args):
        released.wait(10)  # a resolver that never answers (until the test ends)
        return socket.getaddrinfo("127.0.0.1", port, *args)

    with build_client(resolver=stuck_resolver) as client:
        p = provider("http://llm.stalled.test:9", client)
        took, message = stalls(p, Timeouts(connect=5, read=5, total=0.7))
    released.set()
    assert took < 0.7 + SLACK
    assert message.startswith("dns timed out")


def test_a_slow_but_answering_resolver_is_used(serve):
    server = serve(answering)

    def resolver(host, port, *args):
        assert host == "llm.example.test"
        return socket.getaddrinfo("127.0.0.1", port, *args)

    with build_client(resolver=resolver) as client:
        p = provider(f"http://llm.example.test:{server.port}", client)
        result = p.chat(hello(), key=GROQ_KEY, timeouts=Timeouts(1, 1, 2))
    assert result.content == "Hello! How can I help you today?"


# -- over TLS: the handshake done, the request written through the TLS socket ---------------


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    """(server context, client context) for a throwaway self-signed 127.0.0.1 certificate."""
    if not shutil.which("openssl"):
        pytest.skip("needs the openssl command to make a test certificate")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
        + [
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ]
        + ["-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
        check=True,
        capture_output=True,
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(d / "cert.pem", d / "key.pem")
    return server, ssl.create_default_context(cafile=d / "cert.pem")


def over_tls(context: ssl.SSLContext, handle: Callable) -> Callable:
    def handle_tls(conn, stopped):
        conn.settimeout(2)
        with context.wrap_socket(conn, server_side=True) as tls_conn:
            handle(tls_conn, stopped)

    return handle_tls


def test_an_https_answer_comes_through_the_deadline_transport(serve, tls):
    server = serve(over_tls(tls[0], answering))
    with build_client(verify=tls[1]) as client:
        p = provider(f"https://127.0.0.1:{server.port}", client)
        result = p.chat(hello(), key=GROQ_KEY, timeouts=Timeouts(1, 1, 2))
    assert result.content == "Hello! How can I help you today?"


def test_an_https_server_that_drains_the_request_slowly_costs_one_budget(serve, tls):
    server = serve(over_tls(tls[0], drain_slowly))
    big = ChatRequest.from_dicts([{"role": "user", "content": "x" * 16_000_000}])
    with build_client(verify=tls[1]) as client:
        p = provider(f"https://127.0.0.1:{server.port}", client)
        took, message = stalls(p, Timeouts(connect=5, read=5, total=1.0), big)
    assert took < 1.0 + SLACK
    assert message.startswith("write timed out")


# -- the request, the headers ---------------------------------------------------------------


def test_a_server_that_drains_the_request_a_trickle_at_a_time_costs_one_budget(serve, client):
    server = serve(drain_slowly)
    p = provider(f"http://127.0.0.1:{server.port}", client)
    big = ChatRequest.from_dicts([{"role": "user", "content": "x" * 16_000_000}])  # > buffers
    took, message = stalls(p, Timeouts(connect=5, read=5, total=1.0), big)
    assert took < 1.0 + SLACK
    assert message.startswith("write timed out")


def test_headers_sent_one_slow_line_at_a_time_cost_one_budget(serve, client):
    def trickle_headers(conn, stopped):
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        for n, _ in enumerate(every_tick(stopped)):
            conn.sendall(b"X-Slow: %d\r\n" % n)  # each line well within the read timeout

    server = serve(trickle_headers)
    p = provider(f"http://127.0.0.1:{server.port}", client)
    took, message = stalls(p, Timeouts(connect=5, read=5, total=1.0))
    assert 1.0 - 0.05 <= took < 1.0 + SLACK
    assert message.startswith("headers timed out")
    assert "total deadline of 1s exceeded" in message


# -- the body -------------------------------------------------------------------------------

KEEP_ALIVES = {"blank lines": b"\n", "comments": b": keep-alive\n\n", "crlf": b"\r\n"}


def sending_forever(line: bytes):
    def handle(conn, stopped):
        read_request(conn)
        conn.sendall(HEAD)
        for _ in every_tick(stopped):
            conn.sendall(line)

    return handle


@pytest.mark.parametrize("line", KEEP_ALIVES.values(), ids=KEEP_ALIVES.keys())
def test_keep_alive_lines_are_not_progress_so_the_read_timeout_fires(serve, client, line):
    server = serve(sending_forever(line))
    p = provider(f"http://127.0.0.1:{server.port}", client)
    took, message = stalls(p, Timeouts(connect=5, read=0.6, total=5))
    assert 0.6 - 0.05 <= took < 0.6 + SLACK
    assert message.startswith("body timed out")
    assert "no content for 0.6s" in message


@pytest.mark.parametrize("line", KEEP_ALIVES.values(), ids=KEEP_ALIVES.keys())
def test_keep_alive_lines_never_outlast_the_attempt_budget(serve, client, line):
    server = serve(sending_forever(line))
    p = provider(f"http://127.0.0.1:{server.port}", client)
    took, message = stalls(p, Timeouts(connect=5, read=5, total=0.8))
    assert took < 0.8 + SLACK
    assert message.startswith("body timed out")
    assert "total deadline of 0.8s exceeded" in message


def test_a_good_answer_after_keep_alive_lines_within_the_budget_succeeds(serve, client):
    def queued_then_answered(conn, stopped):
        read_request(conn)
        conn.sendall(HEAD)
        for n, _ in enumerate(every_tick(stopped)):
            if n == 3:
                conn.sendall(fixture("deepseek_text.json"))
                return
            conn.sendall(b": keep-alive\n\n")

    server = serve(queued_then_answered)
    p = provider(f"http://127.0.0.1:{server.port}", client)
    result = p.chat(hello(), key=GROQ_KEY, timeouts=Timeouts(connect=1, read=1, total=2))
    assert result.content == "Hello! How can I help you today?"


def test_a_body_that_keeps_sending_content_is_held_to_the_budget(serve, client):
    def endless_json(conn, stopped):
        read_request(conn)
        conn.sendall(HEAD + b'{"choices": [')
        for _ in every_tick(stopped):
            conn.sendall(b'"x", ')  # real content, forever

    server = serve(endless_json)
    took, message = stalls(provider(f"http://127.0.0.1:{server.port}", client), Timeouts(5, 5, 0.8))
    assert took < 0.8 + SLACK
    assert "total deadline of 0.8s exceeded" in message
