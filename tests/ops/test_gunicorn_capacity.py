"""The web worker (d8site/gunicorn_worker.py) under gunicorn: slow senders hold no thread, a
full queue answers 503 with Retry-After, and a request that waited too long or whose client has
gone never reaches the app; each is counted for /metrics (d8site/web_stats.py)."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from d8site import gunicorn_worker
from tests.net import free_port
from tests.ops.gunicorn_run import ROOT, answering, booted, eventually, launch, stop

pytestmark = [pytest.mark.multiprocess, pytest.mark.database("sqlite")]
PARTIAL = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Le"


@pytest.fixture
def serve(env, tmp_path):
    """serve(**settings): one gunicorn worker under the given WEB_* settings; its port."""
    procs = []

    def start(tls: bool = False, **settings):
        port, log = free_port(), tmp_path / f"gunicorn{len(procs)}.log"
        proc = launch(env | {"WEB_REUSE_PORT": "0"} | settings, f"127.0.0.1:{port}", log)
        procs.append(proc)
        booted(proc, log)
        eventually(lambda: (_answering_tls if tls else answering)(port), proc, log)
        return port

    yield start
    for proc in procs:
        stop(proc)


def _answering_tls(port: int) -> bool:
    import ssl

    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=context)
    try:
        conn.request("GET", "/")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def get(port: int, path: str = "/", source: str = "127.0.0.1", timeout: float = 30):
    """(status, headers, body) of one GET on a connection of its own."""
    conn = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=timeout, source_address=(source, 0)
    )
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def stats(port: int) -> dict:
    return json.loads(get(port, "/stats")[2])


def partial(port: int, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(source, 0))
    sock.sendall(PARTIAL)
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_clients_sending_half_a_request_hold_no_thread_and_are_closed(serve):
    port = serve(WEB_THREADS="2", WEB_READ_TIMEOUT_S="0.5")
    slow = [partial(port) for _ in range(20)]  # ten times the threads
    assert get(port)[0] == 200  # gthread's threads would all be reading their heads
    assert all(closed_by_server(s) for s in slow)
    assert stats(port)["read_timeouts"] == 20


def test_an_address_with_too_many_slow_senders_is_refused_and_others_are_not(serve):
    port = serve(WEB_SLOW_PER_ADDRESS="3", WEB_READ_TIMEOUT_S="30")
    slow = [partial(port, source="127.0.0.2") for _ in range(3)]
    eventually_true(lambda: _refused(port))  # once the three have been sending for 1 s
    assert get(port)[0] == 200  # another address
    assert stats(port)["refused_address_limit"] >= 1
    for s in slow:
        s.close()


def _refused(port: int) -> bool:
    """Whether a new connection from 127.0.0.2 is closed before its request is read."""
    with partial(port, source="127.0.0.2") as sock:
        sock.settimeout(0.3)
        try:
            return closed_by_server(sock)
        except TimeoutError:
            return False  # admitted: it waits for the rest of its request


def test_past_the_queue_a_request_gets_503_with_retry_after(serve):
    port = serve(WEB_THREADS="1", WEB_QUEUE="1")
    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda _: get(port, "/?wait=1"), range(3)))
    # One thread and one place in the queue: one or two served (the start-up probe's request
    # may still count for a moment), the rest refused at once.
    shed = [a for a in answers if a[0] == 503]
    assert 1 <= len(shed) <= 2 and len(answers) - len(shed) >= 1
    for _, headers, body in shed:
        assert headers["Retry-After"] == "5"
        assert json.loads(body)["error"]["code"] == "queue_full"
    assert stats(port)["shed_queue_full"] == len(shed)


def test_a_request_queued_past_its_wait_gets_503_and_never_reaches_the_app(serve):
    port = serve(WEB_THREADS="1", WEB_QUEUE_WAIT_S="0.2")
    holder = threading.Thread(target=get, args=(port, "/?wait=1"))
    holder.start()
    eventually_true(lambda: _in_flight(port))
    status, headers, body = get(port, "/?wait=5")  # served, it would take 5 s
    holder.join()
    assert status == 503 and json.loads(body)["error"]["code"] == "queue_timeout"
    # (_in_flight's probes wait in the queue too: under load one may outwait the limit as well.)
    assert stats(port)["shed_queue_timeout"] >= 1


def test_a_request_whose_client_left_while_queued_is_dropped(serve):
    port = serve(WEB_THREADS="1")
    holder = threading.Thread(target=get, args=(port, "/?wait=1"))
    holder.start()
    eventually_true(lambda: _in_flight(port))
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /?wait=30 HTTP/1.1\r\nHost: x\r\n\r\n")  # then the agent gives up
    holder.join()
    # The one thread is free at once: served, the request would have held it for 30 s. (The
    # probes of _in_flight left while queued too: they are counted alike.)
    found = json.loads(get(port, "/stats", timeout=5)[2])
    assert found["dropped_client_gone"] >= 1 and found["in_flight"] == 1


def _in_flight(port: int) -> bool:
    """A request of /?wait holds the one thread (the /stats request waits behind it: no)."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /stats HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(0.1)
        try:
            return not sock.recv(1)
        except TimeoutError:
            return True  # no thread for it: the other request holds it


def eventually_true(condition, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_gunicorn_without_what_the_worker_is_built_on_is_refused():
    class Changed:
        def enqueue_req(self, conn): ...
        def finish_request(self, conn, fs): ...
        def set_accept_enabled(self, enabled, now): ...

    with pytest.raises(RuntimeError, match="accept"):
        gunicorn_worker.check(Changed)
    gunicorn_worker.check()  # the gunicorn installed here has them


def test_over_tls_requests_are_read_by_their_thread_as_gthread_does(serve, tmp_path):
    """The main thread cannot read a TLS request before the handshake: gthread's own way, kept
    alive across requests too."""
    import ssl

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert), "-days", "1"],
        check=True, capture_output=True,
    )  # fmt: skip
    port = serve(GUNICORN_CMD_ARGS=f"--certfile {cert} --keyfile {key}", tls=True)
    context = ssl.create_default_context(cafile=str(cert))
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=30, context=context)
    try:
        for _ in range(2):  # the second on the kept-alive connection
            conn.request("GET", "/")
            assert conn.getresponse().read().startswith(b"ok ")
    finally:
        conn.close()


def test_the_bare_pass_through_boots_under_the_same_config(env, tmp_path):
    """bench/passthrough.py configures settings of its own (no gateway settings): the config's
    worker hooks must not assume the gateway's (drain's graceful-time check did)."""
    port, log = free_port(), tmp_path / "passthrough.log"
    argv = [sys.executable, "-m", "gunicorn", "-c", "d8site/gunicorn.conf.py", "--workers", "1"]
    argv += ["--bind", f"127.0.0.1:{port}", "bench.passthrough:application"]
    with log.open("w") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        booted(proc, log)
        eventually(lambda: _ready(port), proc, log)
    finally:
        stop(proc)


def _ready(port: int) -> bool:
    try:
        return get(port, "/ready", timeout=5)[0] == 200
    except OSError:
        return False


def test_workers_wait_50_ms_for_the_gil_unless_told_otherwise(serve):
    # Hundreds of threads each woken every 5 ms while they wait for the GIL doubled a worker's
    # CPU per request at c=1024 (serving.SWITCH_INTERVAL_S).
    assert float(get(serve(), "/switch")[2]) == pytest.approx(0.05)  # held in microseconds
    assert float(get(serve(WEB_SWITCH_INTERVAL_S="0.005"), "/switch")[2]) == pytest.approx(0.005)
