"""Where a /v1 request's CPU goes: cProfile over the WSGI application, in process.

    .venv/bin/python bench/profile_v1.py [--stream] [-n 500] [--db sqlite|postgresql]

The simulator runs in its own process (as in bench/run); requests are WSGI calls straight into
d8site.wsgi, so the profile holds Django, DRF, the engine and httpx and nothing of gunicorn.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import secrets
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import stack  # noqa: E402
from bench.load import PROMPT  # noqa: E402


def wsgi_post(app, path: str, body: dict, key: str) -> bytes:
    status = []
    out = b"".join(app(wsgi_environ(path, body, key), lambda s, h, *a: status.append(s)))
    if not status[0].startswith("200"):
        sys.exit(f"{path}: {status[0]} {out[:300]!r}")
    return out


def wsgi_environ(path: str, body: dict, key: str) -> dict:
    """A WSGI environ for POSTing `body` as JSON to `path` with an agent key."""
    raw = json.dumps(body).encode()
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "7001",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(raw)),
        "HTTP_HOST": "127.0.0.1:7001",
        "HTTP_AUTHORIZATION": f"Bearer {key}",
        "wsgi.input": io.BytesIO(raw),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=500)
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--path", default="/v1/chat/completions")
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--top", type=int, default=45)
    parser.add_argument(
        "--no-profile", action="store_true", help="only the CPU per request, unprofiled"
    )
    args = parser.parse_args(argv)
    with in_process(args.db) as (app, key, _):
        profile(app, key, args)


@contextmanager
def in_process(db: str):
    """The simulator in its own process, a fresh database, and the service's WSGI app in this
    one, configured as bench/run serves it: yields (app, an agent key, the simulator's URL).
    Pending writes are flushed before the database is dropped."""
    with tempfile.TemporaryDirectory() as tmp, stack.simulator(Path(tmp)) as sim_url:
        with stack.database(db, Path(tmp)) as db_env:
            from llmfallback.simulator.control import simulator_env

            os.environ.update(stack.clean_env() | simulator_env(sim_url) | db_env)
            os.environ.update(
                LLM_PROVIDER_PRIORITY="groq,gemini,deepseek",
                DJANGO_DEBUG="",
                DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
                DJANGO_SETTINGS_MODULE="d8site.settings",
                LLM_SUCCESS_FLUSH_S="0.25",
            )
            from django.core.management import call_command

            from d8site.wsgi import application as app  # as gunicorn serves it

            call_command("migrate", "--noinput", verbosity=0)
            from django.db import connections

            from llmfallback.access.agent_keys import agent_key_create
            from llmfallback.health import buffers
            from llmfallback.health.watch import health_watch_stop

            _, key = agent_key_create(name="profile")
            try:
                yield app, key, sim_url
            finally:
                buffers.flush_all()  # now, not at exit: the database is dropped first
                health_watch_stop()  # its LISTEN connection too, quietly
                connections.close_all()


def profile(app, key: str, args) -> None:
    body = {"model": "auto", "messages": PROMPT, "max_tokens": 64}
    if args.path.startswith("/api/"):  # the seed API routes by its configured chain
        del body["model"]
    if args.stream:
        body["stream"] = True
    for _ in range(50):
        wsgi_post(app, args.path, body, key)
    started = time.perf_counter()
    cpu = time.process_time()
    timer = time.perf_counter if os.environ.get("PROFILE_WALL") else time.process_time
    prof = cProfile.Profile(timer)  # CPU time by default, not time blocked on sockets
    if not args.no_profile:
        prof.enable()
    for _ in range(args.n):
        wsgi_post(app, args.path, body, key)
    prof.disable()
    wall = (time.perf_counter() - started) * 1000 / args.n
    cpu_ms = (time.process_time() - cpu) * 1000 / args.n
    how = "unprofiled" if args.no_profile else "profiled"
    print(
        f"{args.path} stream={args.stream}: {wall:.2f} ms wall, {cpu_ms:.2f} ms CPU/request ({how})"
    )
    if args.no_profile:
        return
    stats = pstats.Stats(prof)
    stats.sort_stats("cumulative").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
