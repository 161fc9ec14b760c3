"""Several instances of the service sharing one PostgreSQL and one Redis, as hosts behind a
load balancer do; agents that chat and stream through it; provider bursts on a schedule."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from bench import drill, stack

ROOT = stack.ROOT
CHAT = {"messages": [{"role": "user", "content": "Say hi in one word."}], "max_tokens": 16}
STREAM = {"model": "auto", "stream": True} | CHAT


@dataclass
class Host:
    """One instance: gunicorn under the production config, on a port of its own."""

    name: str
    env: dict
    tmp: Path
    port: int = field(default_factory=stack.free_port)
    proc: subprocess.Popen | None = None
    serving: bool = False  # ready once since it last started, and neither killed nor stopped

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = self.env | {"PORT": str(self.port), "LLM_HOST_NAME": self.name}
        env["LLM_DATA_DIR"] = str(self.tmp / f"data-{self.name}")
        argv = [sys.executable, "-m", "gunicorn", "-c", "d8site/gunicorn.conf.py", "d8site.wsgi"]
        with (self.tmp / f"host-{self.name}.log").open("a") as log:
            self.proc = subprocess.Popen(
                argv, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def wait_ready(self, timeout: float = 90.0) -> None:
        stack.wait_until(
            f"{self.url}/readyz", self.proc, self.tmp / f"host-{self.name}.log", timeout
        )
        self.serving = True

    def kill(self) -> None:
        """SIGKILL the whole host, master and workers, as a machine that dies."""
        self.serving = False
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def term(self) -> None:
        """SIGTERM the master, as systemd or an orchestrator stopping the host: it drains."""
        self.serving = False
        self.proc.send_signal(signal.SIGTERM)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.alive():
            stack._stop_group(self.proc)


@dataclass
class Fleet:
    sim_url: str
    key: str
    hosts: list[Host]
    tmp: Path

    def client(self, base_url: str, timeout: float = drill.CLIENT_TIMEOUT_S) -> httpx.Client:
        auth = {"Authorization": f"Bearer {self.key}"}
        return httpx.Client(base_url=base_url, headers=auth, timeout=timeout)


@contextmanager
def fleet(tmp: Path, hosts: int = 2, workers: int = 2, threads: int = 16, env: dict | None = None):
    """The simulator, a fresh PostgreSQL database and Redis, and `hosts` instances sharing them
    (and one secret key), with `env` added; yields a Fleet once every host is ready."""
    extra = env or {}
    from llmfallback.simulator.control import simulator_env

    with ExitStack() as stack_:
        sim_url = stack_.enter_context(stack.simulator(tmp))
        db_env = stack_.enter_context(stack.database("postgresql", tmp))
        env = stack.clean_env() | simulator_env(sim_url) | db_env
        env |= {
            "D8_ENV_FILE": os.devnull,  # a developer's .env stays out of the drill
            "LLM_PROVIDER_PRIORITY": "groq,gemini,deepseek",
            "DJANGO_DEBUG": "",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),  # one key for every host
            "WEB_WORKERS": str(workers),
            "WEB_THREADS": str(threads),
        } | extra
        stack._manage(env, "migrate", "--noinput", "-v0")
        created = stack._manage(env, "agent_key", "create", "hosts-drill", "--operator")
        key = re.search(r"d8_\S+", created).group(0)
        members = [Host(chr(ord("a") + i), env, tmp) for i in range(hosts)]
        for host in members:
            stack_.callback(host.stop)
            host.start()
        for host in members:
            host.wait_ready()
        yield Fleet(sim_url, key, members, tmp)


def one_stream(client: httpx.Client) -> drill.Outcome:
    """A streamed /v1 chat: 200 only when the stream ended with [DONE]."""
    sent_at, started = time.time(), time.perf_counter()
    try:
        with client.stream("POST", "/v1/chat/completions", json=STREAM) as r:
            if r.status_code != 200:
                r.read()
                return drill.Outcome(sent_at, time.perf_counter() - started, r.status_code)
            done = any(line.strip() == "data: [DONE]" for line in r.iter_lines())
            provider = r.headers.get("x-d8-provider", "")
    except httpx.HTTPError as e:
        return drill.Outcome(sent_at, time.perf_counter() - started, None, error=type(e).__name__)
    status, error = (200, "") if done else (None, "stream cut")
    return drill.Outcome(sent_at, time.perf_counter() - started, status, provider, error)


@dataclass
class Agents:
    """`count` agents through `base_url` until stopped, every other one streaming."""

    fleet: Fleet
    base_url: str
    count: int
    timeout: float = drill.CLIENT_TIMEOUT_S
    outcomes: list[drill.Outcome] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for i in range(self.count):
            thread = threading.Thread(target=self._agent, args=(i % 2 == 1,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join()

    def _agent(self, streaming: bool) -> None:
        with self.fleet.client(self.base_url, self.timeout) as client:
            while not self.stopping.is_set():
                outcome = one_stream(client) if streaming else drill.one_request(client)
                outcome.provider = f"{'stream' if streaming else 'chat'}:{outcome.provider}"
                self.outcomes.append(outcome)


@dataclass
class Burst:
    started_at: float
    ended_at: float
    upstream_calls: int
    hosts_serving: int
    cooling_at_start: bool  # Groq in cooldown right after the reset, as health reported it


def burst(fleet: Fleet, base_url: str, sim, seconds: float, hosts_serving: int) -> Burst:
    """Groq answers 503 for `seconds`, starting from a clean slate (its cooldown reset, so each
    burst is a new episode); how many calls reached it meanwhile."""
    with fleet.client(base_url, timeout=30) as c:
        c.post("/api/llm/providers/groq/reset").raise_for_status()
        # What the hosts make of it: a burst that finds Groq still cooling costs no call.
        cooling = c.get("/api/llm/health").json()["providers"]["groq"]["in_cooldown"]
    before = sim.calls().get("groq", 0)
    started = time.time()
    sim.script("groq", [{"behavior": "unavailable", "variant": "text503", "times": -1}])
    time.sleep(seconds)
    sim.script("groq", [{"behavior": "ok", "delay_s": 0.05, "times": -1}])
    calls = sim.calls().get("groq", 0) - before
    return Burst(started, time.time(), calls, hosts_serving, cooling)


def escalations(fleet: Fleet, base_url: str) -> list[dict]:
    with fleet.client(base_url, timeout=30) as c:
        return c.get("/api/llm/escalations").json()["results"]


def settled_health(fleet: Fleet, base_url: str, answered: int, timeout: float = 5.0) -> dict:
    """Health once the hosts' buffered successes are written (LLM_SUCCESS_FLUSH_S, 0.25 s)."""
    deadline = time.monotonic() + timeout
    with fleet.client(base_url, timeout=30) as c:
        while True:
            health = c.get("/api/llm/health").json()
            if health["total_requests"] >= answered or time.monotonic() > deadline:
                return health
            time.sleep(0.2)


def dump(path: Path, figures: dict) -> None:
    figures = figures | {"bursts": [asdict(b) for b in figures.get("bursts", [])]}
    path.write_text(json.dumps(figures, indent=2, default=str))
