"""Load generation with wrk (C, so it barely competes with the servers for the two cores)."""

from __future__ import annotations

import dataclasses
import json
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench import cpu

LUA = Path(__file__).with_name("post.lua")
PROMPT = [{"role": "user", "content": "Say hi in one word."}]


@dataclass(frozen=True)
class Target:
    name: str
    url: str
    auth: str
    body: dict
    pid: int | None = None  # the server's master process, to count its CPU time


@dataclass(frozen=True)
class Result:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_ms: float | None = None  # the server's CPU time per request (all its processes)
    error_kinds: str = ""  # wrk's counts by kind, e.g. "status 3, timeout 1"

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def require_wrk() -> None:
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get update && apt-get install -y wrk")


def wrk(target: Target, concurrency: int, seconds: float) -> Result:
    """POST target.body at a fixed number of open connections for `seconds`; with the
    server's CPU time per request when the target names its process."""
    cpu_before = cpu.seconds(target.pid) if target.pid else None
    result = _wrk(target, concurrency, seconds)
    if cpu_before is None or not result.requests:
        return result
    spent = cpu.seconds(target.pid) - cpu_before
    return dataclasses.replace(result, cpu_ms=spent * 1000 / result.requests)


def _wrk(target: Target, concurrency: int, seconds: float) -> Result:
    threads = min(concurrency, 2)
    seconds = max(1, round(seconds))  # wrk takes whole seconds
    argv = ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "30s"]
    argv += ["-s", str(LUA), target.url]
    env = {
        "BENCH_BODY": json.dumps(target.body),
        "BENCH_AUTH": target.auth,
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=seconds + 60).stdout
    line = next((x for x in out.splitlines() if x.startswith("BENCH_JSON ")), None)
    if line is None:
        sys.exit(f"wrk failed: {' '.join(argv)}\n{out}")
    s = json.loads(line.removeprefix("BENCH_JSON "))
    kinds = {k: s[k] for k in ("connect", "read", "write", "status", "timeout") if s[k]}
    return Result(
        s["requests"],
        s["duration_us"] / 1e6,
        s["p50_us"] / 1e3,
        s["p99_us"] / 1e3,
        sum(kinds.values()),
        error_kinds=", ".join(f"{k} {n}" for k, n in kinds.items()),
    )


def sequential(target: Target, n: int) -> tuple[list[float], list[int]]:
    """n requests one after another: (latencies in ms, status codes)."""
    latencies, statuses = [], []
    with httpx.Client(timeout=60.0, headers={"Authorization": target.auth}) as client:
        for _ in range(n):
            started = time.perf_counter()
            r = client.post(target.url, json=target.body)
            latencies.append((time.perf_counter() - started) * 1000)
            statuses.append(r.status_code)
    return latencies, statuses


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
