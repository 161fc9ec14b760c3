"""Under gunicorn's gthread workers (d8site/gunicorn.conf.py) each event reaches the agent as
the provider sends it: nothing between the provider and the agent buffers the stream."""

import json
import socket
import time

import pytest

from tests.scaleout.conftest import service  # noqa: F401 - the real service under gunicorn

# Its own SQLite database whatever the suite runs on: CI runs it once, in the SQLite pass.
pytestmark = pytest.mark.database("sqlite")


@pytest.fixture
def database_env(tmp_path):
    """SQLite only: this is about the bytes on the wire, not the shared state."""
    return {"DATABASE_URL": "", "REDIS_URL": "", "SQLITE_PATH": str(tmp_path / "db.sqlite3")}


def test_gthread_workers_flush_each_event_as_it_comes(service, sim):  # noqa: F811
    # The first words now, then a second of keep-alives, then the rest of the answer.
    sim.script("groq", [{"behavior": "stream_stall", "interval_s": 0.1, "duration_s": 1.0}])
    body = {"model": "auto", "messages": [{"role": "user", "content": "Hi there"}], "stream": True}
    started, first, lines = time.monotonic(), None, []
    with service.client() as client:
        with client.stream("POST", "/v1/chat/completions", json=body) as r:
            assert r.headers["x-d8-provider"] == "groq"
            for line in r.iter_lines():
                if '"content":"[groq]"' in line and first is None:
                    first = time.monotonic() - started
                lines.append(line)
    total = time.monotonic() - started
    assert lines[-2] == "data: [DONE]"
    # The stall holds the rest back for a second: the first words must have come well before.
    assert first is not None and total - first >= 0.8, (first, total)


def test_the_head_and_the_first_token_reach_the_agent_in_one_packet(service, sim):  # noqa: F811
    """wire.FirstTokenCork: the agent's first read holds the status line and the first words.
    The provider then stalls, so nothing later could have joined them on the way."""
    sim.script("groq", [{"behavior": "stream_stall", "interval_s": 0.2, "duration_s": 0.6}])
    body = json.dumps(
        {"model": "auto", "messages": [{"role": "user", "content": "Hi"}], "stream": True}
    ).encode()
    host, port = service.base_url.removeprefix("http://").split(":")
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {service.agent_key}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(head + body)
        first = conn.recv(65536)
        rest = b"".join(iter(lambda: conn.recv(65536), b""))
    assert first.startswith(b"HTTP/1.1 200 "), first[:100]
    assert b"x-d8-provider: groq" in first and b'"content":"[groq]"' in first, first
    assert rest.endswith(b"data: [DONE]\n\n\r\n0\r\n\r\n")  # and the rest still came, whole
