"""The deadline transport's parts, with fake clocks and fake streams: no sleeps, no servers."""

import socket
import threading
import time

import httpcore
import httpx
import pytest

from llmfallback.core.errors import ProviderTimeout, Unavailable
from llmfallback.core.types import Timeouts
from llmfallback.providers import OpenAICompatible
from llmfallback.providers.budget import ContentProgress, attempt_budget
from llmfallback.providers.transport import (
    DeadlineBackend,
    DeadlineStream,
    ProviderClient,
    build_client,
)
from tests.providers.helpers import GROQ_KEY, client_for, fixture, hello


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class RecordingStream(httpcore.NetworkStream):
    """An inner stream that records the timeouts it was given."""

    def __init__(self, sock=None) -> None:
        self.timeouts: list = []
        self.sock = sock

    def read(self, max_bytes, timeout=None):
        self.timeouts.append(timeout)
        return b"data"

    def write(self, buffer, timeout=None):
        self.timeouts.append(timeout)

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        self.timeouts.append(timeout)
        return RecordingStream()

    def get_extra_info(self, info):
        return self.sock if info == "socket" else None


# -- what counts as progress ----------------------------------------------------------------


def feed(*chunks: bytes) -> list[bool]:
    progress = ContentProgress()
    return [progress.feed(c) for c in chunks]


def test_blank_lines_and_comments_carry_no_content():
    assert feed(b"\n", b"\r\n\r\n", b": keep-alive\n\n", b"  \n", b"") == [False] * 5


def test_a_comment_split_across_chunks_is_still_a_comment():
    assert feed(b"\n: keep-", b"alive\n", b":", b" ping\n\n") == [False] * 4


def test_the_answer_after_comments_is_content():
    assert feed(b": keep-alive\n\n", b'\n{"choices": []}') == [False, True]


def test_content_in_the_same_chunk_as_a_comment_counts():
    assert feed(b': keep-alive\n\n{"id": 1}') == [True]


def test_whitespace_after_the_answer_started_is_not_progress():
    assert feed(b'{"a":', b"\n\n   ", b"1}") == [True, False, True]


# -- the budget caps every operation -------------------------------------------------------


def test_reads_wait_at_most_what_is_left_of_the_attempt():
    clock, inner = FakeClock(), RecordingStream()
    stream = DeadlineStream(inner)
    with attempt_budget(2.0, clock) as budget:
        stream.read(10, timeout=30)
        clock.now += 1.5
        stream.read(10, timeout=30)
        stream.read(10, timeout=0.1)  # a shorter own timeout stands
    assert inner.timeouts == [2.0, 0.5, 0.1]
    assert budget.phase == "headers"


def test_an_operation_after_the_deadline_fails_at_once_without_waiting():
    clock, inner = FakeClock(), RecordingStream()
    stream = DeadlineStream(inner)
    with attempt_budget(1.0, clock):
        clock.now += 1.0
        with pytest.raises(httpcore.ReadTimeout, match="budget spent"):
            stream.read(10, timeout=30)
        with pytest.raises(httpcore.WriteTimeout):
            stream.write(b"x", timeout=30)
        with pytest.raises(httpcore.ConnectTimeout):
            stream.start_tls(None, "example.com", timeout=30)
    assert inner.timeouts == []


def test_the_idle_limit_caps_body_reads_until_content_arrives():
    clock, inner = FakeClock(), RecordingStream()
    stream = DeadlineStream(inner)
    with attempt_budget(60.0, clock) as budget:
        budget.start_body(idle=5.0)
        clock.now += 4.0
        stream.read(10, timeout=30)  # only 1 s of the idle limit is left
        budget.progressed(clock.now)
        stream.read(10, timeout=30)
    assert inner.timeouts == [1.0, 5.0]
    assert budget.phase == "body"


def test_without_an_attempt_the_stream_changes_nothing():
    inner = RecordingStream()
    stream = DeadlineStream(inner)
    stream.read(10, timeout=30)
    stream.read(10, timeout=None)
    stream.write(b"x", timeout=7)
    assert inner.timeouts == [30, None, 7]


def test_tls_handshakes_are_capped_and_their_streams_too():
    clock, inner = FakeClock(), RecordingStream()
    with attempt_budget(3.0, clock) as budget:
        tls = DeadlineStream(inner).start_tls(None, "example.com", timeout=10)
        assert budget.phase == "tls"
        clock.now += 2.0
        tls.read(10, timeout=10)
    assert inner.timeouts == [3.0]
    assert tls._stream.timeouts == [1.0]


def test_writes_go_out_on_the_socket_within_the_budget():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        stream = DeadlineStream(RecordingStream(sock=ours))
        with attempt_budget(2.0, FakeClock()) as budget:
            stream.write(b"POST / HTTP/1.1\r\n\r\n", timeout=30)
        assert theirs.recv(100) == b"POST / HTTP/1.1\r\n\r\n"
        assert budget.phase == "write"
        # A peer that reads nothing: the send waits what is left of the budget, then gives up.
        with attempt_budget(0.1, FakeClock()), pytest.raises(httpcore.WriteTimeout):
            started = time.monotonic()
            stream.write(b"x" * (64 << 20), timeout=30)
        assert 0.09 <= time.monotonic() - started < 5


def test_threads_sharing_a_stream_each_keep_their_own_budget():
    inner = RecordingStream()
    stream = DeadlineStream(inner)
    both_set = threading.Barrier(2)

    def call(total: float) -> None:
        with attempt_budget(total, FakeClock()):
            both_set.wait(5)  # both budgets exist before either reads
            stream.read(10, timeout=30)
            both_set.wait(5)

    threads = [threading.Thread(target=call, args=(t,)) for t in (1.0, 2.0)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert sorted(inner.timeouts) == [1.0, 2.0]  # not one budget seen twice


# -- name resolution and connects ----------------------------------------------------------


class RecordingBackend:
    def __init__(self, refuse=()):
        self.calls, self.refuse = [], set(refuse)

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        self.calls.append((host, timeout))
        if host in self.refuse:
            raise httpcore.ConnectError("refused")
        return RecordingStream()


def backend(resolver, refuse=()) -> tuple[DeadlineBackend, RecordingBackend]:
    inner = RecordingBackend(refuse)
    b = DeadlineBackend(resolver)
    b._inner = inner
    return b, inner


def addresses(*ips):
    return lambda host, port, *args: [(socket.AF_INET, 1, 6, "", (ip, port)) for ip in ips]


def test_each_resolved_address_is_tried_in_turn_within_the_budget():
    b, inner = backend(addresses("10.0.0.1", "10.0.0.2", "10.0.0.1"), refuse={"10.0.0.1"})
    with attempt_budget(3.0, FakeClock()) as budget:
        stream = b.connect_tcp("llm.example.test", 443, timeout=5)
    assert isinstance(stream, DeadlineStream)
    assert inner.calls == [("10.0.0.1", 3.0), ("10.0.0.2", 3.0)]
    assert budget.phase == "connect"


def test_a_literal_ip_needs_no_resolver():
    def no_lookups(*args):
        raise AssertionError("looked up an IP address")

    b, inner = backend(no_lookups)
    b.connect_tcp("127.0.0.1", 80, timeout=5)
    b.connect_tcp("::1", 80, timeout=5)
    assert [host for host, _ in inner.calls] == ["127.0.0.1", "::1"]


def test_a_name_that_does_not_resolve_is_a_connect_error():
    def unknown(*args):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    b, _ = backend(unknown)
    with pytest.raises(httpcore.ConnectError, match="dns: nowhere.test"):
        b.connect_tcp("nowhere.test", 80, timeout=5)


def test_any_resolver_failure_is_a_connect_error_not_a_crash():
    def idna_rejects(*args):
        raise UnicodeError("label too long")

    b, _ = backend(idna_rejects)
    with pytest.raises(httpcore.ConnectError, match="label too long"):
        b.connect_tcp("x" * 70 + ".test", 80, timeout=5)


def test_a_resolver_that_stalls_is_abandoned_at_the_connect_timeout():
    released = threading.Event()
    b, _ = backend(lambda *args: released.wait(5) and [])
    try:
        with pytest.raises(httpcore.ConnectTimeout, match="dns: no answer for slow.test"):
            b.connect_tcp("slow.test", 80, timeout=0.05)
    finally:
        released.set()


def test_an_unresolvable_provider_is_unavailable():
    def unknown(*args):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with build_client(resolver=unknown) as client:
        p = OpenAICompatible(name="x", base_url="http://nowhere.test", model="m", client=client)
        with pytest.raises(Unavailable, match="dns: nowhere.test"):
            p.chat(hello(), key=GROQ_KEY, timeouts=Timeouts(1, 1, 1))


# -- the adapter's body reader (MockTransport, fake clock) ---------------------------------


def deepseek(content, clock) -> OpenAICompatible:
    client = client_for(lambda request: httpx.Response(200, content=content))
    return OpenAICompatible(
        name="deepseek", base_url="http://sim", model="deepseek-chat", client=client, clock=clock
    )


def test_keep_alive_comments_do_not_reset_the_read_timeout():
    clock = FakeClock()

    def comments():
        for _ in range(1000):
            clock.now += 1.0
            yield b": keep-alive\n\n"

    with pytest.raises(ProviderTimeout, match="body timed out .*no content for 3s"):
        deepseek(comments(), clock).chat(hello(), key=GROQ_KEY, timeouts=Timeouts(1, 3, 60))
    assert clock.now == 1003.0


def test_content_that_keeps_coming_resets_the_read_timeout():
    clock, body = FakeClock(), fixture("deepseek_text.json")

    def slow_content():
        for i in range(0, len(body), 20):  # one piece every 2 s, 10 s and more in all
            clock.now += 2.0
            yield body[i : i + 20]

    result = deepseek(slow_content(), clock).chat(
        hello(), key=GROQ_KEY, timeouts=Timeouts(1, 3, 600)
    )
    assert result.content == "Hello! How can I help you today?"
    assert clock.now > 1010


@pytest.mark.parametrize(
    "error, phase",
    [
        (httpx.ConnectTimeout, "connect"),
        (httpx.WriteTimeout, "write"),
        (httpx.ReadTimeout, "headers"),
        (httpx.PoolTimeout, "pool"),
    ],
)
def test_a_timeout_names_its_phase_even_without_the_deadline_transport(error, phase):
    def handler(request):
        raise error("timed out", request=request)

    p = OpenAICompatible(name="x", base_url="http://sim", model="m", client=client_for(handler))
    with pytest.raises(ProviderTimeout, match=f"^{phase} timed out after"):
        p.chat(hello(), key=GROQ_KEY, timeouts=Timeouts())


def test_the_shared_client_never_follows_redirects():
    with build_client() as client:
        assert client.follow_redirects is False


# -- the shared client keeps no cookies -------------------------------------------------------


def test_a_cookie_set_by_one_answer_never_rides_on_later_calls():
    sent = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers.get("cookie"))
        return httpx.Response(200, headers={"set-cookie": "__cf_bm=abc; Path=/"}, json={})

    client = ProviderClient(transport=httpx.MockTransport(handler))
    for _ in range(2):
        client.post("https://api.groq.com/openai/v1/chat/completions", json={})
    assert sent == [None, None]
    assert not client.cookies


def test_the_built_client_keeps_no_cookies():
    assert isinstance(build_client(), ProviderClient)
