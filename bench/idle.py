"""What idling costs Python on this machine: one request through Django's own request path (the
bare pass-through's /ready view, no database), timed straight on and right after the process
slept 50 ms, as a gateway's thread sleeps on a 50 ms upstream.

    .venv/bin/python bench/idle.py

On a quiet core the two agree. Where the CPU's caches and the scheduler lose the thread while it
sleeps (a virtual machine's halted vCPU, other tenants), the work after 50 ms of sleep runs
slower, and so does every gateway's answer path after a 50 ms upstream: bench/run prints this
beside its streaming figures so the 50 ms rows can be read against it.
"""

from __future__ import annotations

import io
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# The bare pass-through's own Django (bench/passthrough.py): the floor every gateway row of the
# benchmark is measured against. Its /ready view touches neither the upstream nor a database.
from bench.passthrough import application  # noqa: E402


def work() -> None:
    """One request through the pass-through's Django request path, the least a Django gateway
    runs."""
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/ready",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "7001",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
    }
    response = application(environ, lambda status, headers, *args: None)
    b"".join(response)
    response.close()


def measure(gaps_s=(0.0, 0.05), rounds: int = 6, per_round: int = 25) -> dict[float, float]:
    """p50 ms of `work` right after sleeping each gap; the gaps take turns, so a noisy moment
    of the machine falls on all of them."""
    for _ in range(50):
        work()
    times: dict[float, list[float]] = {gap: [] for gap in gaps_s}
    for _ in range(rounds):
        for gap in gaps_s:
            for _ in range(per_round):
                time.sleep(gap)
                started = time.perf_counter()
                work()
                times[gap].append((time.perf_counter() - started) * 1000)
    return {gap * 1000: statistics.median(found) for gap, found in times.items()}


def brief(found: dict[float, float]) -> str:
    hot, cold = found[0.0], found[max(found)]
    return (
        f"one request through bare Django takes {hot:.3f} ms straight on and {cold:.3f} ms right after "
        f"{max(found):.0f} ms of sleep ({cold / hot:.1f}×)"
    )


if __name__ == "__main__":
    print(brief(measure()))
