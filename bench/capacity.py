"""Capacity at real LLM latencies: `bench/capacity [--seconds 20] [--no-litellm] [--env K=V]`.

wrk holds C connections for the cell's seconds against the simulator answering after 1 s and
after 5 s, directly, through /v1 and through LiteLLM's proxy (2 workers), in plain calls and in
streams (60 tokens spread over the latency). Every figure is printed with the machine's load
average (the machine is shared: a cell run under a high load says little). bench/run takes the
same cells (capacity_cells) beside its fast ones.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import procs, report, stack  # noqa: E402
from bench.load import PROMPT, Target, require_wrk, wrk  # noqa: E402
from llmfallback.simulator.control import SimulatorControl  # noqa: E402

DELAYS_S = (1.0, 5.0)
CONCURRENCY = (1024,)
STREAM_TOKENS = 60
PROVIDERS = ("groq", "gemini", "deepseek")
# 60 one-word tokens: the simulator streams each word as a chunk.
CONTENT = " ".join(["tok"] * STREAM_TOKENS)


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def script_slow(sim: SimulatorControl, delay_s: float, stream: bool) -> None:
    """Plain answers after delay_s; streams of STREAM_TOKENS spread over delay_s."""
    sim.reset()
    params = {"content": CONTENT}
    params |= {"spread_s": delay_s} if stream else {"delay_s": delay_s}
    for provider in PROVIDERS:
        sim.script(provider, [{"behavior": "ok", "times": -1, **params}])


def streamed(target: Target) -> Target:
    return Target(target.name, target.url, target.auth, target.body | {"stream": True}, target.pid)


def targets(sim_url: str, ours, theirs) -> dict[str, Target]:
    upstream_body = {"model": "llama-3.3-70b-versatile", "messages": PROMPT, "max_tokens": 64}
    found = {
        "direct": Target(
            "direct",
            f"{sim_url}/groq/openai/v1/chat/completions",
            "Bearer gsk_sim_0000000000000000000000000000000000000000000000000",
            upstream_body,
        ),
        "v1": Target(
            "v1",
            f"{ours[0]}/v1/chat/completions",
            f"Bearer {ours[1]}",
            {"model": "auto", "messages": PROMPT, "max_tokens": 64},
            ours[2],
        ),
    }
    if theirs:
        body = {"model": "groq-chat", "messages": PROMPT, "max_tokens": 64}
        found["litellm"] = Target(
            "litellm", f"{theirs[0]}/v1/chat/completions", f"Bearer {theirs[1]}", body, theirs[2]
        )
    return found


def capacity_cells(
    sim, found, seconds: float, pause: float, concurrency=CONCURRENCY, kinds=(False, True)
) -> list:
    """One cell per latency, concurrency and kind (plain, stream): every target's wrk result,
    and the load average before each."""
    cells = []
    for stream in kinds:
        for delay in DELAYS_S:
            script_slow(sim, delay, stream)
            for c in concurrency:
                cell = {"delay_ms": delay * 1000, "c": c, "stream": stream, "load": {}}
                for name, target in found.items():
                    target = streamed(target) if stream else target
                    cell["load"][name] = load()
                    wrk(target, c, min(delay * 2, 5.0))  # warm: connections, threads, pools
                    cell[name] = wrk(target, c, seconds)
                    kind = "stream" if stream else "plain "
                    print(
                        f"  {kind} upstream {delay:.0f} s c={c:<4} {name:8} "
                        f"{report.brief(cell[name])}  ({cell['load'][name]})",
                        flush=True,
                    )
                    time.sleep(pause)  # let the last cell's connections close
                cells.append(cell)
    return cells


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds per cell")
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--no-litellm", action="store_true")
    parser.add_argument("--logs", help="keep the servers' logs in this directory")
    parser.add_argument("--only-plain", action="store_true", help="skip the stream cells")
    parser.add_argument("-c", type=int, action="append", help="concurrency (repeatable)")
    parser.add_argument(
        "--env", action="append", default=[], help="K=V for our service (e.g. WEB_THREADS=512)"
    )
    args = parser.parse_args(argv)
    require_wrk()
    extra = dict(kv.split("=", 1) for kv in args.env)
    with ExitStack() as es:
        tmp = Path(args.logs or es.enter_context(tempfile.TemporaryDirectory(prefix="d8-cap-")))
        tmp.mkdir(parents=True, exist_ok=True)
        sim_url = es.enter_context(stack.simulator(tmp))
        db_env = es.enter_context(stack.database(args.db, tmp))
        ours = es.enter_context(stack.our_service(sim_url, db_env, tmp, extra))
        theirs = None if args.no_litellm else es.enter_context(stack.litellm_proxy(sim_url, tmp))
        sim = SimulatorControl(sim_url)
        found = targets(sim_url, ours, theirs)
        print(f"Our service: {extra or 'defaults'}; {load()}", flush=True)
        kinds = (False,) if args.only_plain else (False, True)
        cells = capacity_cells(sim, found, args.seconds, 3.0, tuple(args.c or CONCURRENCY), kinds)
        rss = [procs.rss_mb(p) for p in procs.descendants(ours[2])]
        print(f"Our processes' RSS after the run: {', '.join(f'{m:.0f} MB' for m in rss)}")
        print("\n".join(["", *capacity_table(cells)]))


def capacity_table(cells) -> list[str]:
    names = [n for n in ("v1", "litellm") if n in cells[0]]
    head = "| kind | upstream | c | direct req/s, p99 ms |"
    head += "".join(f" {n} req/s (share), p99 ms, errors |" for n in names) + " load (1 min) |"
    lines = [head, "|---|---|---|---|" + "---|" * len(names) + "---|"]
    for cell in cells:
        d = cell["direct"]
        row = f"| {'stream' if cell['stream'] else 'plain'} | {cell['delay_ms'] / 1000:.0f} s "
        row += f"| {cell['c']} | {d.rps:.1f}, {d.p99_ms:.0f} |"
        for n in names:
            r = cell[n]
            row += f" {r.rps:.1f} ({r.rps / d.rps:.0%}), {r.p99_ms:.0f}, {r.errors} |"
        row += f" {cell['load']['v1'].split()[1]} |"
        lines.append(row)
    return lines


if __name__ == "__main__":
    main()
