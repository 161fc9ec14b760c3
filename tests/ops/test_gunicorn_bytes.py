"""Every byte through the web worker's own sockets (d8site/agent_socket.py) under gunicorn: a body
past what the main thread pre-reads, a file through sendfile, an answer larger than the kernel's
buffers to a client that reads slowly, and many requests on one kept-alive connection."""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import time

import pytest

from d8site import intake
from tests.net import free_port
from tests.ops.gunicorn_run import answering, booted, eventually, launch, stop
from tests.ops.hello_wsgi import _pattern

pytestmark = [pytest.mark.multiprocess, pytest.mark.database("sqlite")]


@pytest.fixture(scope="module")
def port(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bytes")
    home = tmp / "home"
    home.mkdir()
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("GUNICORN", "XDG_", "WEB_"))}
    port, log = free_port(), tmp / "gunicorn.log"
    proc = launch(kept | {"HOME": str(home), "WEB_REUSE_PORT": "0"}, f"127.0.0.1:{port}", log)
    booted(proc, log)
    eventually(lambda: answering(port), proc, log)
    yield port
    stop(proc)


def test_a_body_larger_than_the_pre_read_arrives_whole(port):
    body = os.urandom(intake.BODY_PREREAD_MAX + 3 * 1024 * 1024)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/echo", body=body, headers={"Content-Type": "application/octet-stream"})
    answer = conn.getresponse()
    assert answer.status == 200
    assert answer.read().decode() == f"{len(body)} {hashlib.sha256(body).hexdigest()}"


def test_a_file_goes_out_whole_through_sendfile(port):
    size = 5 * 1024 * 1024 + 17
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", f"/file?size={size}")
    answer = conn.getresponse()
    assert answer.status == 200
    assert answer.read() == _pattern(size)


def test_an_answer_larger_than_the_buffers_reaches_a_slow_reader_whole(port):
    size = 16 * 1024 * 1024
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sock.sendall(f"GET /big?size={size} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    got = bytearray()
    while chunk := sock.recv(64 * 1024):
        got += chunk
        if len(got) < 2 * 1024 * 1024:
            time.sleep(0.002)  # slow at first: the worker's send waits for room, again and again
    sock.close()
    head, _, body = bytes(got).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert len(body) == size
    assert body == _pattern(size)


def test_one_kept_alive_connection_serves_request_after_request(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for i in range(50):
        body = os.urandom(i * 997)
        conn.request("POST", "/echo", body=body)
        answer = conn.getresponse()
        assert answer.read().decode() == f"{len(body)} {hashlib.sha256(body).hexdigest()}"
        assert not answer.will_close


def test_a_head_alone_goes_out_and_the_connection_goes_on(port):
    """An answer with no body (HEAD): its head, held to go out with the body, goes out alone."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for method in ("HEAD", "GET", "HEAD"):
        conn.request(method, "/big?size=1000")
        answer = conn.getresponse()
        assert answer.status == 200
        assert answer.getheader("Content-Length") == "1000"
        assert answer.read() == (b"" if method == "HEAD" else _pattern(1000))
