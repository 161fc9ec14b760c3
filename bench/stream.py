"""Streaming latency: time to the first content token and to the stream's end, one request at a
time (concurrency 1), measured by the same httpx client against the simulator and the gateway."""

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


def measure(target: Target, n: int, warmup: int = 5) -> StreamResult:
    """n streamed requests one after another on one kept-alive connection."""
    body = target.body | {"stream": True}
    target = Target(target.name, target.url, target.auth, body)
    with httpx.Client(timeout=60.0, headers={"Authorization": target.auth}) as client:
        for _ in range(warmup):
            one(client, target)
        runs = [one(client, target) for _ in range(n)]
    firsts = sorted(r[0] for r in runs)
    return StreamResult(
        median(firsts),
        median([r[1] for r in runs]),
        firsts[int(len(firsts) * 0.9)],
        sum(not r[2] for r in runs),
    )
