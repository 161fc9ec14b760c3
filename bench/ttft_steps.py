"""Where a streamed /v1 request's time to first token goes, step by step, in process.

    .venv/bin/python bench/ttft_steps.py [--delay 0.05] [-n 200] [--db sqlite|postgresql]

WSGI calls straight into d8site.wsgi (as bench/profile_v1.py makes them), against the simulator
answering after --delay seconds. A few of the path's functions are wrapped to note when each
step is reached; the medians are printed in the order the request reaches them, with the time
each step took. No gunicorn: bench/run's streaming rows hold what the server and the machine
add. With --delay 0.05 the steps after the upstream's first byte run as they do in production,
on a thread that has just slept while the provider thought.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load import PROMPT, median  # noqa: E402
from bench.profile_v1 import in_process, wsgi_environ  # noqa: E402

# In the order a streamed request reaches them.
STEPS = (
    ("view", "Django's request path, the key and the body checked: the view starts"),
    ("upstream_sent", "limits, route, engine and the provider request: the request goes out"),
    ("upstream_head", "the upstream's status line and headers are read"),
    ("first_token", "the first event with a token is parsed"),
    ("view_returns", "the engine's start, the response object: the view returns"),
    ("wsgi_returns", "Django's middleware on the way out: the WSGI app returns"),
    ("token_chunk", "the role chunk and the first token's chunk are made"),
)


class Stamps:
    def __init__(self) -> None:
        self.at: dict[str, float] = {}

    def note(self, step: str) -> None:
        self.at.setdefault(step, time.perf_counter())


def instrument(stamps: Stamps) -> None:
    """Wrap the functions whose entry or return marks a step."""
    from llmfallback.http import openai
    from llmfallback.providers import http11, stream_reader

    handle = http11.Http11Transport.handle_request

    def handle_request(self, request):
        stamps.note("upstream_sent")
        response = handle(self, request)
        stamps.note("upstream_head")
        return response

    http11.Http11Transport.handle_request = handle_request

    events = stream_reader.events

    def reader_events(*args, **kwargs):
        for event in events(*args, **kwargs):
            if getattr(event, "is_token", False):
                stamps.note("first_token")
            yield event

    stream_reader.events = reader_events

    stream = openai._stream

    def view_stream(*args, **kwargs):
        stamps.note("view")
        response = stream(*args, **kwargs)
        stamps.note("view_returns")
        return response

    openai._stream = view_stream


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--delay", type=float, default=0.05, help="the upstream's wait, seconds")
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    args = parser.parse_args(argv)
    with in_process(args.db) as (app, key, sim_url):
        from llmfallback.simulator.control import SimulatorControl

        sim = SimulatorControl(sim_url)
        for provider in ("groq", "gemini", "deepseek"):
            sim.script(provider, [{"behavior": "ok", "times": -1, "delay_s": args.delay}])
        stamps = Stamps()
        instrument(stamps)
        body = {"model": "auto", "messages": PROMPT, "max_tokens": 64, "stream": True}
        runs = [one(app, key, body, stamps) for _ in range(30 + args.n)][30:]
    print(f"/v1 stream, upstream after {args.delay * 1000:.0f} ms, median of {args.n} calls:")
    print(f"{'reached at':>12} {'step took':>10}  step")
    before, at = 0.0, {}
    for step, what in STEPS:
        at[step] = median([run[step] for run in runs])
        took = at[step] - before if step != "upstream_head" else None
        shown = f"{took:8.3f} ms" if took is not None else "(upstream)".rjust(11)
        print(f"{at[step]:9.3f} ms {shown}  {what}")
        before = at[step]
    print(
        f"Before the upstream call {at['upstream_sent']:.3f} ms; from the upstream's head to the "
        f"first token's chunk {at['token_chunk'] - at['upstream_head']:.3f} ms."
    )


def one(app, key: str, body: dict, stamps: Stamps) -> dict[str, float]:
    """One streamed call; each step's time after the call started, in ms."""
    stamps.at.clear()
    started = time.perf_counter()
    status = []
    chunks = app(wsgi_environ("/v1/chat/completions", body, key), lambda s, h, *a: status.append(s))
    stamps.note("wsgi_returns")
    try:
        for chunk in chunks:
            if b'"content":"' in chunk and b'"content":""' not in chunk:
                stamps.note("token_chunk")
                break
        for _ in chunks:
            pass
    finally:
        chunks.close()
    if not status[0].startswith("200") or len(stamps.at) != len(STEPS):
        sys.exit(f"a call went wrong: {status[0]}, steps {sorted(stamps.at)}")
    return {step: (at - started) * 1000 for step, at in stamps.at.items()}


if __name__ == "__main__":
    main()
