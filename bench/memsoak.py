"""Memory soak: `bench/memsoak [--seconds 300] [--streams 1000] [--latency 1]`.

Holds `--streams` concurrent streamed /v1 calls (60 tokens spread over `--latency` seconds,
each connection starting its next stream as soon as one ends) for `--seconds`, and reads each
web worker's resident memory and threads every 10 s. Prints the series and exits non-zero unless
every worker stays under 300 MB and its memory is flat: the last third of the run no higher than
its first sample after warm-up plus 10 % (a leak per stream grows with every one served).

Warm-up: the first minute, and for each worker until its thread pool has grown to the largest it
reaches in the run (gunicorn starts a thread only when no idle one is free, so the pool grows as
the load shifts between workers; each thread costs about 0.1 MB, bounded by WEB_THREADS, and is
not a leak). A pool that is still growing in the last third gets no such allowance: its worker is
judged from the first minute on.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import procs, report, stack, verdicts  # noqa: E402
from bench.capacity import script_slow, streamed, targets  # noqa: E402
from bench.load import require_wrk, wrk  # noqa: E402
from llmfallback.simulator.control import SimulatorControl  # noqa: E402

LIMIT_MB = 300.0
GROWTH = 1.10
SAMPLE_S = 10.0


class Sample(NamedTuple):
    elapsed: float  # seconds since the soak began
    rss: list[float]  # MB, one per worker
    load: float
    threads: list[int]  # one per worker


def sample(master: int, seconds: float, out: list) -> None:
    """A Sample every SAMPLE_S until seconds have passed."""
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        workers = procs.descendants(master)
        rss, threads = [procs.rss_mb(p) for p in workers], [procs.threads(p) for p in workers]
        out.append(Sample(elapsed, rss, os.getloadavg()[0], threads))
        print(f"  {elapsed:5.0f} s  RSS {', '.join(f'{m:.0f}' for m in rss)} MB  "
              f"threads {', '.join(map(str, threads))}  "
              f"load {os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip
        time.sleep(SAMPLE_S)


def verdict(samples: list[Sample]) -> list[str]:
    """The targets, met or missed, from the samples (warm-up: see the module's docstring)."""
    last_third = samples[-1].elapsed * 2 / 3
    tail = [s for s in samples if s.elapsed >= last_third]
    peak = max(max(s.rss) for s in samples)
    lines = [
        verdicts.target_line(
            peak <= LIMIT_MB, f"peak RSS per worker {peak:.0f} MB (≤ {LIMIT_MB:.0f})"
        )
    ]
    for i in range(len(samples[-1].rss)):
        start = warmed(samples, i, last_third)
        end = max(s.rss[i] for s in tail if i < len(s.rss))
        lines.append(
            verdicts.target_line(
                end <= start.rss[i] * GROWTH,
                f"worker {i + 1}: {start.rss[i]:.0f} MB at {start.elapsed:.0f} s "
                f"({start.threads[i]} threads), at most {end:.0f} MB in the last third "
                f"(≤ +{(GROWTH - 1) * 100:.0f} %)",
            )
        )
    return lines


def warmed(samples: list[Sample], i: int, last_third: float) -> Sample:
    """Worker i's first sample after warm-up: past the first minute, with its thread pool at the
    largest it reaches, unless that comes only in the last third."""
    seen = [s for s in samples if i < len(s.rss)]
    warm = [s for s in seen if s.elapsed >= 60.0] or seen
    most = max(s.threads[i] for s in seen)
    grown = [s for s in warm if s.threads[i] >= most and s.elapsed < last_third]
    return grown[0] if grown else warm[0]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per stream")
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--env", action="append", default=[], help="K=V for our service")
    args = parser.parse_args(argv)
    require_wrk()
    with ExitStack() as es:
        tmp = Path(es.enter_context(tempfile.TemporaryDirectory(prefix="d8-memsoak-")))
        sim_url = es.enter_context(stack.simulator(tmp))
        db_env = es.enter_context(stack.database(args.db, tmp))
        extra = dict(kv.split("=", 1) for kv in args.env)
        ours = es.enter_context(stack.our_service(sim_url, db_env, tmp, extra))
        script_slow(SimulatorControl(sim_url), args.latency, stream=True)
        v1 = streamed(targets(sim_url, ours, None)["v1"])
        print(f"{args.streams} streams for {args.seconds:.0f} s ...", flush=True)
        samples: list = []
        sampler = threading.Thread(target=sample, args=(ours[2], args.seconds, samples))
        sampler.start()
        result = wrk(v1, args.streams, args.seconds)
        sampler.join()
    print(f"\nwrk: {report.brief(result)}")
    lines = verdict(samples)
    lines.append(verdicts.target_line(result.errors == 0, f"errors: {result.errors}"))
    print("\n".join(lines))
    return 1 if any("missed" in line for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main())
