"""Slow header phases, truncated bodies and SSE keep-alive comments, over real sockets.

Real waits here are a fraction of a second: they exercise what only a socket shows.
"""

import time

import httpx
import pytest

from .test_sockets import raw_post


def test_slow_headers_send_the_status_line_first_then_one_header_line_at_a_time(ctl, sim_server):
    base_url, _ = sim_server
    ctl.script("groq", [{"behavior": "slow_headers", "interval_s": 0.1, "duration_s": 0.45}])
    sock = raw_post(base_url, "/groq/openai/v1/chat/completions")
    started = time.monotonic()
    first = sock.recv(65536)
    assert first == b"HTTP/1.1 200 OK\r\n"  # alone: no header yet
    data = first
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    elapsed = time.monotonic() - started
    head = data.split(b"\r\n\r\n")[0]
    assert 0.35 <= elapsed < 1.5
    assert head.count(b"X-Queue-Wait:") >= 3
    sock.close()


def test_slow_headers_end_in_a_whole_answer(ctl, call):
    ctl.script("deepseek", [{"behavior": "slow_headers", "interval_s": 0.05, "duration_s": 0.2}])
    r = call("deepseek")
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"]


def test_slow_headers_trip_no_read_timeout_while_lines_keep_coming(ctl, call):
    ctl.script("groq", [{"behavior": "slow_headers", "interval_s": 0.1, "duration_s": 0.6}])
    r = call("groq", timeout=httpx.Timeout(5, read=0.3))  # each line arrives within 0.3 s
    assert r.status_code == 200


def test_slow_headers_stop_when_the_client_leaves(ctl, sim_server, call):
    base_url, _ = sim_server
    ctl.script("groq", [{"behavior": "slow_headers", "interval_s": 0.05, "duration_s": 60}])
    sock = raw_post(base_url, "/groq/openai/v1/chat/completions")
    sock.recv(100)
    sock.close()
    time.sleep(0.2)
    assert call("groq").status_code == 200  # the server is free again


@pytest.mark.parametrize("provider", ["groq", "gemini", "deepseek"])
def test_a_truncated_body_promises_more_than_it_sends(ctl, call, provider):
    ctl.script(provider, [{"behavior": "truncated"}])
    with pytest.raises(httpx.RemoteProtocolError):
        call(provider)
    assert call(provider).status_code == 200


def test_keepalive_can_send_sse_comments_instead_of_blank_lines(ctl, sim_server):
    base_url, _ = sim_server
    ctl.script(
        "deepseek",
        [{"behavior": "keepalive", "duration_s": 0.25, "interval_s": 0.1, "line": "comment"}],
    )
    sock = raw_post(base_url, "/deepseek/chat/completions")
    sock.settimeout(2)
    data = b""
    while not data.endswith(b"0\r\n\r\n"):
        data += sock.recv(65536)
    body = data.partition(b"\r\n\r\n")[2]
    assert body.startswith(b"e\r\n: keep-alive\n\n\r\n")  # one chunk per comment
    assert b'"[deepseek] hi"' in body
