"""What only a real socket shows: hangs, keep-alive blank lines, connection reuse.

Real waits here are short (well under a second each) because they exercise real sockets.
"""

import socket
import time

import httpx
import pytest


def raw_post(
    base_url, path, body=b'{"model":"deepseek-chat","messages":[{"role":"user","content":"hi"}]}'
):
    host, port = base_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=2)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-sim\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode() + body)
    return sock


def read_all(sock) -> bytes:
    chunks = []
    while data := sock.recv(65536):
        chunks.append(data)
    return b"".join(chunks)


def test_hang_sends_nothing_and_is_bounded(ctl, sim_server):
    base_url, _ = sim_server
    ctl.script("deepseek", [{"behavior": "hang", "hang_s": 0.3}])
    sock = raw_post(base_url, "/deepseek/chat/completions")
    started = time.monotonic()
    assert read_all(sock) == b""  # the server gives up and closes without a byte
    assert 0.25 <= time.monotonic() - started < 1.5


def test_hang_trips_the_clients_read_timeout(ctl, call):
    ctl.script("groq", [{"behavior": "hang", "hang_s": 5}])
    with pytest.raises(httpx.ReadTimeout):
        call("groq", timeout=httpx.Timeout(5, read=0.2))
    assert call("groq").status_code == 200  # the hang was one step; the server is fine


def test_keepalive_sends_blank_lines_before_the_body(ctl, sim_server):
    base_url, _ = sim_server
    ctl.script("deepseek", [{"behavior": "keepalive", "duration_s": 0.3, "interval_s": 0.1}])
    sock = raw_post(base_url, "/deepseek/chat/completions")
    sock.settimeout(2)
    data = b""
    while not data.endswith(b"0\r\n\r\n"):
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head and b"Content-Length" not in head
    assert body.startswith(b"1\r\n\n\r\n")  # a one-byte chunk holding "\n"
    assert body.count(b"1\r\n\n\r\n") >= 2
    assert b'"[deepseek] hi"' in body


def test_keepalive_without_chunking_closes_the_connection(ctl, call):
    ctl.script(
        "deepseek",
        [{"behavior": "keepalive", "duration_s": 0.2, "interval_s": 0.1, "transfer": "close"}],
    )
    r = call("deepseek")
    assert r.headers["connection"] == "close" and "content-length" not in r.headers
    assert r.text.startswith("\n") and r.json()["choices"][0]["message"]["content"]


def test_keepalive_forever_is_bounded(ctl, sim_server):
    base_url, _ = sim_server
    ctl.script(
        "deepseek",
        [{"behavior": "keepalive", "then": "forever", "interval_s": 0.1, "max_s": 0.3}],
    )
    sock = raw_post(base_url, "/deepseek/chat/completions")
    data = read_all(sock)
    assert data.startswith(b"HTTP/1.1 200 OK") and b"[deepseek]" not in data


def test_connections_are_kept_alive(call, http):
    for _ in range(3):
        assert call("groq").headers.get("connection") != "close"
    assert call("groq").http_version == "HTTP/1.1"
