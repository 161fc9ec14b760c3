"""Streaming latency: time to the first content token and to the stream's end, one request at a
time (concurrency 1), measured by the same httpx code against the simulator and the gateways,
taking them in turns."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import httpx

from bench.load import Target, median


@dataclass(frozen=True)
class StreamResult:
    ttft_ms: float  # p50 time to the first chunk with content
    ttlt_ms: float  # p50 time to the end of the body
    ttft_p90_ms: float
    failures: int

    def brief(self) -> str:
        return (
            f"first token p50 {self.ttft_ms:6.2f} ms (p90 {self.ttft_p90_ms:6.2f})  "
            f"last token p50 {self.ttlt_ms:6.2f} ms  failures {self.failures}"
        )


def _has_content(line: bytes) -> bool:
    if not line.startswith(b"data:") or line.strip() == b"data: [DONE]":
        return False
    try:
        chunk = json.loads(line[5:])
    except ValueError:
        return False
    return any((c.get("delta") or {}).get("content") for c in chunk.get("choices") or [])


def one(client: httpx.Client, target: Target) -> tuple[float, float, bool]:
    started = time.perf_counter()
    first = None
    with client.stream("POST", target.url, json=target.body) as r:
        for line in r.iter_lines():
            if first is None and _has_content(line.encode()):
                first = time.perf_counter()
        ok = r.status_code == 200 and first is not None
    end = time.perf_counter()
    return ((first or end) - started) * 1000, (end - started) * 1000, ok


def measure(targets: list[Target], n: int, warmup: int = 5) -> dict[str, StreamResult]:
    """n streamed requests to each target, taken in turns (one to each, then again), every
    target on its own kept-alive connection. In turns, a slow spell of the machine falls on
    all of them alike, so the differences between them (the "added" columns) do not depend
    on which target it happened to hit."""
    clients, bodies = {}, {}
    try:
        for t in targets:
            clients[t.name] = httpx.Client(timeout=60.0, headers={"Authorization": t.auth})
            bodies[t.name] = Target(t.name, t.url, t.auth, t.body | {"stream": True})
        runs: dict[str, list] = {t.name: [] for t in targets}
        for i in range(warmup + n):
            for t in targets:
                result = one(clients[t.name], bodies[t.name])
                if i >= warmup:
                    runs[t.name].append(result)
    finally:
        for client in clients.values():
            client.close()
    return {name: _summary(results) for name, results in runs.items()}


def _summary(runs: list[tuple[float, float, bool]]) -> StreamResult:
    firsts = sorted(r[0] for r in runs)
    return StreamResult(
        median(firsts),
        median([r[1] for r in runs]),
        firsts[int(len(firsts) * 0.9)],
        sum(not r[2] for r in runs),
    )
