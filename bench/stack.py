"""Start and stop what the benchmark needs: the simulator, our service, LiteLLM's proxy."""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
LITELLM_VENV = ROOT / "bench" / ".venv-litellm"
LITELLM_VERSION = "1.108.7"  # the newest whose proxy extra installs from the registry here
POSTGRES_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
# Without BENCH_REDIS_URL a run takes the first of these databases no other run holds (the
# tests use 15): each run empties its own at start, so two runs sharing one (a benchmark beside
# a drill) would wipe each other's counters.
REDIS_DBS = range(14, 7, -1)
LITELLM_KEY = "sk-bench-" + secrets.token_hex(8)
PROJECT_ENV_VARS = ("DATABASE_URL", "REDIS_URL", "SQLITE_PATH", "LLM_PROVIDER_PRIORITY")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(url: str, proc: subprocess.Popen, log: Path, timeout: float, headers=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(
                f"{proc.args[:3]} exited with {proc.returncode}; log:\n{log.read_text()[-3000:]}"
            )
        try:
            if httpx.get(url, headers=headers, timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    sys.exit(f"{url} did not answer within {timeout} s; log:\n{log.read_text()[-3000:]}")


@contextmanager
def process(argv: list[str], *, env: dict, log: Path, cwd: Path = ROOT):
    """Run argv in its own process group; stop the whole group afterwards."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield proc
        finally:
            _stop_group(proc)


def _stop_group(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


def clean_env() -> dict:
    """The environment without the project's own settings (a .env file must not leak in)."""
    return {
        k: v
        for k, v in os.environ.items()
        if k not in PROJECT_ENV_VARS and not k.endswith(("_API_KEY", "_BASE_URL"))
    }


@contextmanager
def simulator(tmp: Path):
    port = free_port()
    argv = [sys.executable, "-m", "llmfallback.simulator", "--port", str(port)]
    with process(argv, env=clean_env(), log=tmp / "simulator.log") as proc:
        base_url = f"http://127.0.0.1:{port}"
        wait_until(f"{base_url}/_sim/calls", proc, tmp / "simulator.log", 15)
        yield base_url


@contextmanager
def database(kind: str, tmp: Path):
    """Environment for a fresh database: PostgreSQL + Redis (scale-out) or an SQLite file."""
    if kind == "sqlite":
        yield {"DATABASE_URL": "", "REDIS_URL": "", "SQLITE_PATH": str(tmp / "bench.sqlite3")}
        return
    import psycopg
    import redis

    name = f"d8_bench_{secrets.token_hex(4)}"
    with (
        redis_database() as redis_url,
        psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin,
    ):
        redis.Redis.from_url(redis_url).flushdb()  # this run's own db: the cache starts empty
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield {
                "DATABASE_URL": f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}",
                "REDIS_URL": redis_url,
                # Unused with PostgreSQL, but the settings still name a file: one of this run's
                # own, never the developer's data/ (which the test suite refuses, d8site/env.py).
                "SQLITE_PATH": str(tmp / "unused.sqlite3"),
            }
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def redis_database():
    """The URL of a Redis database this run holds alone (a lock file per database) until it
    ends: BENCH_REDIS_URL's, else the first free one of REDIS_DBS."""
    if "BENCH_REDIS_URL" in os.environ:
        yield REDIS_URL
        return
    base = REDIS_URL.rsplit("/", 1)[0]
    for db in REDIS_DBS:
        with open(Path(tempfile.gettempdir()) / f"d8-bench-redis-{db}.lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # another run holds it
            yield f"{base}/{db}"
            return
    sys.exit(f"every Redis database of {list(REDIS_DBS)} is held by another run")


def _manage(env: dict, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


@contextmanager
def our_service(
    sim_url: str,
    db_env: dict,
    tmp: Path,
    extra_env: dict | None = None,
    more_keys: tuple[str, ...] = (),
    keys: dict | None = None,
):
    """The service under the production gunicorn config; yields (base_url, agent key, master pid).

    extra_env: more settings for the service (WEB_WORKERS, WEB_THREADS, ...). more_keys: names
    of more (non-operator) agent keys to create, written into `keys` by name.
    """
    from llmfallback.simulator.control import simulator_env

    port = free_port()
    env = clean_env() | simulator_env(sim_url) | db_env
    env |= {"PORT": str(port), "LLM_PROVIDER_PRIORITY": "groq,gemini,deepseek", "DJANGO_DEBUG": ""}
    # Production settings refuse the development key; a throwaway one for this run.
    env |= {"DJANGO_SECRET_KEY": secrets.token_urlsafe(50)}
    env |= extra_env or {}
    _manage(env, "migrate", "--noinput", "-v0")
    _manage(env, "collectstatic", "--noinput", "-v0")
    key = re.search(r"d8_\S+", _manage(env, "agent_key", "create", "bench", "--operator")).group(0)
    for name in more_keys:
        created = _manage(env, "agent_key", "create", name)
        (keys if keys is not None else {})[name] = re.search(r"d8_\S+", created).group(0)
    argv = [sys.executable, "-m", "gunicorn", "-c", "d8site/gunicorn.conf.py", "d8site.wsgi"]
    with process(argv, env=env, log=tmp / "service.log") as proc:
        base_url = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {key}"}
        wait_until(f"{base_url}/api/llm/health", proc, tmp / "service.log", 30, headers)
        yield base_url, key, proc.pid


@contextmanager
def passthrough(sim_url: str, tmp: Path):
    """bench/passthrough.py (the floor) under the same gunicorn config; yields (base_url, pid)."""
    port = free_port()
    upstream = f"{sim_url}/groq/openai/v1/chat/completions"
    env = clean_env() | {"PORT": str(port), "PASSTHROUGH_UPSTREAM": upstream}
    argv = [sys.executable, "-m", "gunicorn", "-c", "d8site/gunicorn.conf.py"]
    argv += ["bench.passthrough:application"]
    with process(argv, env=env, log=tmp / "passthrough.log") as proc:
        base_url = f"http://127.0.0.1:{port}"
        wait_until(f"{base_url}/ready", proc, tmp / "passthrough.log", 30)
        yield base_url, proc.pid


def litellm_config(sim_url: str) -> dict:
    """The same three providers, fallbacks groq -> gemini -> deepseek and a 30 s cooldown."""
    from llmfallback.simulator.control import simulator_env

    env = simulator_env(sim_url)
    models = [
        ("groq-chat", "groq/llama-3.3-70b-versatile", "GROQ"),
        ("gemini-chat", "gemini/gemini-2.5-flash", "GEMINI"),
        ("deepseek-chat", "deepseek/deepseek-chat", "DEEPSEEK"),
    ]
    model_list = [
        {
            "model_name": name,
            "litellm_params": {
                "model": model,
                "api_base": env[f"{p}_BASE_URL"],
                "api_key": env[f"{p}_API_KEY"],
            },
        }
        for name, model, p in models
    ]
    return {
        "model_list": model_list,
        "router_settings": {
            "fallbacks": [{"groq-chat": ["gemini-chat", "deepseek-chat"]}],
            "num_retries": 0,
            "allowed_fails": 0,
            "cooldown_time": 30,
        },
        "litellm_settings": {"request_timeout": 30, "telemetry": False},
    }


def ensure_litellm() -> Path:
    """LiteLLM's proxy in its own venv (bench/.venv-litellm), installed on first use."""
    litellm = LITELLM_VENV / "bin" / "litellm"
    if not litellm.exists():
        print(
            f"Installing litellm[proxy]=={LITELLM_VERSION} into {LITELLM_VENV} (once)...",
            flush=True,
        )
        subprocess.run(["python3", "-m", "venv", str(LITELLM_VENV)], check=True)
        pip = LITELLM_VENV / "bin" / "pip"
        subprocess.run(
            [str(pip), "install", "-q", f"litellm[proxy]=={LITELLM_VERSION}"], check=True
        )
    return litellm


@contextmanager
def litellm_proxy(sim_url: str, tmp: Path, workers: int = 2):
    """LiteLLM's proxy with `workers` uvicorn workers; yields (base_url, master key, pid)."""
    litellm = ensure_litellm()
    config = tmp / "litellm.json"  # YAML is a superset of JSON
    config.write_text(json.dumps(litellm_config(sim_url), indent=2))
    port = free_port()
    env = clean_env() | {"LITELLM_MASTER_KEY": LITELLM_KEY, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    env |= {"HF_HUB_OFFLINE": "1"}  # no network here: fail fast instead of retrying for ~30 s
    argv = [str(litellm), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    # Importing the proxy takes longer than uvicorn's 5 s worker health check on a busy 2-core box.
    argv += ["--num_workers", str(workers), "--timeout_worker_healthcheck", "60"]
    with process(argv, env=env, log=tmp / "litellm.log", cwd=tmp) as proc:
        base_url = f"http://127.0.0.1:{port}"
        wait_until(f"{base_url}/health/liveliness", proc, tmp / "litellm.log", 90)
        yield base_url, LITELLM_KEY, proc.pid


@contextmanager
def everything(db_kind: str, tmp: Path, with_litellm: bool = True):
    """The simulator, our service, the bare pass-through and LiteLLM's proxy, all stopped on exit."""
    with ExitStack() as stack:
        sim_url = stack.enter_context(simulator(tmp))
        db_env = stack.enter_context(database(db_kind, tmp))
        ours = stack.enter_context(our_service(sim_url, db_env, tmp))
        floor = stack.enter_context(passthrough(sim_url, tmp))
        theirs = stack.enter_context(litellm_proxy(sim_url, tmp)) if with_litellm else None
        yield sim_url, ours, floor, theirs
