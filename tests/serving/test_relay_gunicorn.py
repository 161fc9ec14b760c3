"""Under gunicorn, streams past their first chunk are relayed by each worker's event loop
(d8site/relay.py): every way a provider breaks mid-answer is still continued on the next one,
and /metrics shows the streams the loops carry."""

import json
import threading
import time

import httpx
import pytest

from tests.scaleout.conftest import service  # noqa: F401 - the real service under gunicorn
from tests.v1.test_stream_rescue_api import ANSWER, BREAKS

pytestmark = pytest.mark.database("sqlite")
METRICS_TOKEN = "relay-test-metrics-token"


@pytest.fixture
def database_env(tmp_path, monkeypatch):
    # Read by the service fixture from os.environ: a short stall limit, /metrics open to a token.
    monkeypatch.setenv("LLM_STREAM_STALL_S", "0.5")
    monkeypatch.setenv("LLM_METRICS_TOKEN", METRICS_TOKEN)
    return {"DATABASE_URL": "", "REDIS_URL": "", "SQLITE_PATH": str(tmp_path / "db.sqlite3")}


def stream_events(client: httpx.Client) -> list:
    body = {"model": "auto", "messages": [{"role": "user", "content": "Hi"}], "stream": True}
    with client.stream("POST", "/v1/chat/completions", json=body) as r:
        assert r.status_code == 200, r.read()
        raw = r.read().decode()
    return [
        line[6:] if line == "data: [DONE]" else json.loads(line[6:])
        for line in raw.split("\n\n")
        if line.startswith("data: ")
    ]


def relayed_now(client: httpx.Client) -> float:
    text = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
    line = next(x for x in text.splitlines() if x.startswith("d8_web_streams_relayed "))
    return float(line.split()[1])


def served(events) -> tuple[str, list]:
    text = "".join(
        e["choices"][0]["delta"].get("content") or ""
        for e in events
        if isinstance(e, dict) and e.get("choices")
    )
    finish = next(e for e in events if isinstance(e, dict) and e.get("x_d8"))
    return text, [(s["provider"], s["mode"]) for s in finish["x_d8"]["served_by"]]


def broken_and_continued(client, sim, shape: str, breaks: str, continues: str) -> list:
    """`breaks` breaks its answer the way BREAKS[shape] does, `continues` answers whole: the
    stream still ends whole, and this says who served which part."""
    sim.reset()
    sim.script(breaks, [BREAKS[shape] | {"content": ANSWER}])
    sim.script(continues, [{"behavior": "ok", "content": ANSWER}])
    events = stream_events(client)
    assert events[-1] == "[DONE]"
    text, parts = served(events)
    assert text == ANSWER
    return parts


def test_breaks_mid_stream_are_continued_and_metrics_count_relayed_streams(service, sim):  # noqa: F811
    with service.client() as client:
        # Cut off mid-answer: the loop reads the end of the connection, Gemini splices.
        assert broken_and_continued(client, sim, "cut", "groq", "gemini") == [
            ("groq", "fresh"),
            ("gemini", "splice"),
        ]
        # Silent mid-answer (Groq now cools down, so Gemini starts): the stall limit runs out
        # in the loop's timer, and DeepSeek continues from the text so far.
        assert broken_and_continued(client, sim, "stall", "gemini", "deepseek") == [
            ("gemini", "fresh"),
            ("deepseek", "prefill"),
        ]

        # Slow streams (a token every 0.1 s for 2 s): seen by /metrics while the loops carry them.
        sim.reset()
        for name in ("groq", "gemini", "deepseek"):
            sim.script(name, [{"behavior": "ok", "times": -1, "content": ANSWER, "spread_s": 2}])
        done = []
        runs = [
            threading.Thread(target=lambda: done.append(stream_events(service.client())))
            for _ in range(4)
        ]
        for run in runs:
            run.start()
        deadline, seen = time.monotonic() + 1.8, 0.0
        while time.monotonic() < deadline and not seen:
            seen = relayed_now(client)
            time.sleep(0.05)
        for run in runs:
            run.join(30)
        assert seen >= 1
        assert len(done) == 4 and all(events[-1] == "[DONE]" for events in done)
        assert relayed_now(client) == 0
