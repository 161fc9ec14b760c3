"""What the soak and crash drills share: the stack, the load, the health totals, the figures."""

from __future__ import annotations

import itertools
import math
import threading
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench import stack

BODY = {"messages": [{"role": "user", "content": "Say hi in one word."}], "max_tokens": 16}
CLIENT_TIMEOUT_S = 120.0  # above the gateway's 60 s deadline: the gateway answers first
# Answers the API documents for a chat request (docs/api.md): the caller's own mistakes (4xx)
# and "no provider could answer" (503). Anything else, or no answer at all, misses the target.
DOCUMENTED = {200, 400, 413, 503}


@dataclass(frozen=True)
class Service:
    base_url: str
    agent_key: str
    master_pid: int
    db_env: dict
    tmp: Path

    def client(self, timeout: float = CLIENT_TIMEOUT_S) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.agent_key}"}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.master_pid}/task/{self.master_pid}/children")
        return [int(pid) for pid in children.read_text().split()]


@contextmanager
def running(db_kind: str, tmp: Path, workers: int, threads: int = 32):
    """The simulator, a fresh database and gunicorn with `workers` processes; yields (sim, svc)."""
    from llmfallback.simulator.control import SimulatorControl

    with ExitStack() as stack_:
        sim_url = stack_.enter_context(stack.simulator(tmp))
        db_env = stack_.enter_context(stack.database(db_kind, tmp))
        extra = {"WEB_WORKERS": str(workers), "WEB_THREADS": str(threads)}
        extra["LLM_DATA_DIR"] = str(tmp / "llm_data")  # escalation files stay out of the repo
        base_url, key, pid = stack_.enter_context(
            stack.our_service(sim_url, db_env, tmp, extra_env=extra)
        )
        svc = Service(base_url, key, pid, db_env, tmp)
        wait_for_workers(svc, workers)
        sim = SimulatorControl(sim_url, timeout=30.0)
        stack_.callback(sim.close)
        yield sim, svc


def wait_for_workers(svc: Service, workers: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while len(svc.worker_pids()) < workers:
        if time.monotonic() > deadline:
            raise RuntimeError(f"gunicorn did not start {workers} workers within {timeout} s")
        time.sleep(0.2)


@dataclass
class Outcome:
    """One request as its client saw it."""

    sent_at: float  # epoch seconds
    latency_s: float
    status: int | None  # None: no answer (connection dropped, client timeout)
    provider: str = ""
    error: str = ""


@dataclass
class Load:
    outcomes: list[Outcome] = field(default_factory=list)
    started_at: float = 0.0
    ended_at: float = 0.0
    done: threading.Event = field(default_factory=threading.Event)

    def count(self) -> int:
        return len(self.outcomes)


def run_load(
    svc: Service, requests: int, clients: int, rate: float = 0.0, load: Load | None = None
) -> Load:
    """`requests` chat requests from `clients` threads, one keep-alive connection each.

    rate: requests per second in all (0: as fast as the clients go), so a short drill still
    spans many fault bursts.
    """
    load = load or Load()
    tickets = itertools.count()
    lock = threading.Lock()

    def client_loop():
        with svc.client() as client:
            while (ticket := next(tickets)) < requests:
                if rate > 0:
                    time.sleep(max(0.0, load.started_at + ticket / rate - time.time()))
                outcome = one_request(client)
                with lock:
                    load.outcomes.append(outcome)

    load.started_at = time.time()
    threads = [threading.Thread(target=client_loop, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    load.ended_at = time.time()
    load.done.set()
    return load


def one_request(client: httpx.Client) -> Outcome:
    sent_at, started = time.time(), time.perf_counter()
    try:
        r = client.post("/api/llm/chat", json=BODY)
    except httpx.HTTPError as e:
        return Outcome(sent_at, time.perf_counter() - started, None, error=type(e).__name__)
    latency = time.perf_counter() - started
    try:
        body = r.json()
    except ValueError:
        return Outcome(sent_at, latency, r.status_code, error="not JSON")
    provider = body.get("provider", "") if isinstance(body, dict) else ""
    return Outcome(sent_at, latency, r.status_code, provider=provider or "")


def settled_health(svc: Service, expected: int, timeout: float = 15.0) -> tuple[dict, float]:
    """Health once the workers' buffered successes are written; and how long that took."""
    started = time.monotonic()
    with svc.client(timeout=30.0) as client:
        while True:
            health = client.get("/api/llm/health").json()
            waited = time.monotonic() - started
            if health["total_requests"] >= expected or waited > timeout:
                return health, waited
            time.sleep(0.1)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def latency_line(outcomes: list[Outcome]) -> str:
    ms = [o.latency_s * 1000 for o in outcomes]
    return (
        f"latency p50 {percentile(ms, 0.5):.0f} ms, p95 {percentile(ms, 0.95):.0f} ms, "
        f"max {max(ms, default=float('nan')):.0f} ms"
    )


@dataclass
class Targets:
    """Each target, met or missed, in the order they are checked."""

    rows: list[tuple[str, bool, str]] = field(default_factory=list)

    def check(self, name: str, met: bool, detail: str) -> None:
        self.rows.append((name, bool(met), detail))

    @property
    def missed(self) -> list[str]:
        return [name for name, met, _ in self.rows if not met]

    def text(self) -> str:
        width = max((len(n) for n, _, _ in self.rows), default=0)
        return "\n".join(
            f"  {'met   ' if met else 'MISSED'}  {name:{width}}  {detail}"
            for name, met, detail in self.rows
        )
