"""One command for the benchmarks: `.venv/bin/python bench/run.py [--quick] [--db postgresql|sqlite]`.

Starts the simulator (the upstream), our service under d8site/gunicorn.conf.py, the bare
pass-through (bench/passthrough.py, same config) and LiteLLM's proxy (two workers, same
providers, fallbacks and cooldown). Checks LiteLLM's own client against our /v1, measures
streaming at c=1 (time to first and last token: direct, the pass-through, /v1), then every
gateway with wrk (latency, req/s and the server's CPU per request) and /v1/messages and
/v1/responses against /v1/chat/completions (bench/faces.py), stops them all, prints
Markdown tables and writes them to bench/results/latest.md.
"""

from __future__ import annotations

import argparse
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

from bench import capacity, faces, procs, report, stack, stream  # noqa: E402
from bench.load import PROMPT, Target, median, require_wrk, sequential, wrk  # noqa: E402
from llmfallback.simulator.control import SimulatorControl  # noqa: E402

CONCURRENCY = (1, 16, 64)
DELAYS_S = (0.0, 0.05)
PROVIDERS = ("groq", "gemini", "deepseek")


def targets(sim_url: str, ours, floor, theirs) -> dict[str, Target]:
    """direct (the simulator), pass (bench/passthrough.py), v1 and ours (/api/llm/chat), litellm."""
    upstream_body = {"model": "llama-3.3-70b-versatile", "messages": PROMPT, "max_tokens": 64}
    found = {
        "direct": Target(
            "direct",
            f"{sim_url}/groq/openai/v1/chat/completions",
            "Bearer gsk_sim_0000000000000000000000000000000000000000000000000",
            upstream_body,
        ),
        "pass": Target("pass", f"{floor[0]}/api/llm/chat", "", upstream_body, floor[1]),
        "v1": Target(
            "v1",
            f"{ours[0]}/v1/chat/completions",
            f"Bearer {ours[1]}",
            {"model": "auto", "messages": PROMPT, "max_tokens": 64},
            ours[2],
        ),
        "ours": Target(
            "ours",
            f"{ours[0]}/api/llm/chat",
            f"Bearer {ours[1]}",
            {"messages": PROMPT, "max_tokens": 64},
            ours[2],
        ),
    }
    if theirs:
        body = {"model": "groq-chat", "messages": PROMPT, "max_tokens": 64}
        found["litellm"] = Target(
            "litellm", f"{theirs[0]}/v1/chat/completions", f"Bearer {theirs[1]}", body, theirs[2]
        )
    return found


def streaming(sim, found, n: int) -> dict:
    """Time to first and last token at c=1: direct, through the bare pass-through (the floor)
    and through /v1, one request to each in turn (stream.measure). Not LiteLLM's proxy: its
    streaming path fetches a tokenizer from Hugging Face and stalls ~30 s per call offline."""
    out = {}
    for delay in DELAYS_S:
        script_all(sim, "ok", delay_s=delay)
        names = [name for name in ("direct", "pass", "v1") if name in found]
        results = stream.measure([found[name] for name in names], n)
        for name in names:
            out[(delay * 1000, name)] = result = results[name]
            print(f"  stream upstream {delay * 1000:.0f} ms {name:8} {result.brief()}", flush=True)
    return out


def idle() -> str:
    """bench/idle.py's figure, in its own process (it configures a bare Django of its own)."""
    done = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("idle.py"))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    line = done.stdout.strip() if done.returncode == 0 else f"failed: {done.stderr[-300:]}"
    print(f"  idle: {line}", flush=True)
    return line


def cpu_rounds(sim, found, seconds: float, rounds: int) -> dict[str, list[float]]:
    """CPU per request at c=1, the pass-through and /v1 in turns, `rounds` times: one cell is
    at the mercy of whatever else the machine does in its seconds; the median of turns is not."""
    script_all(sim, "ok", delay_s=0.0)
    out: dict[str, list[float]] = {"pass": [], "v1": []}
    for n in range(rounds):
        for name in out:
            wrk(found[name], 1, 1.0)
            out[name].append(wrk(found[name], 1, seconds).cpu_ms or 0.0)
        print(
            f"  cpu round {n + 1}: pass {out['pass'][-1]:.3f} ms, v1 {out['v1'][-1]:.3f} ms",
            flush=True,
        )
    return out


def litellm_client(ours) -> list[str]:
    """LiteLLM's own client (its SDK, in its venv) against our /v1: OK/FAIL lines."""
    python = stack.LITELLM_VENV / "bin" / "python"
    if not python.exists():
        return ["FAIL litellm client: bench/.venv-litellm is missing"]
    argv = [str(python), str(Path(__file__).with_name("litellm_client.py"))]
    argv += [f"{ours[0]}/v1", ours[1]]
    env = stack.clean_env() | {"LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    lines = [x for x in done.stdout.splitlines() if x.startswith(("OK", "FAIL"))]
    if done.returncode and not any(x.startswith("FAIL") for x in lines):
        lines.append(f"FAIL litellm client exited {done.returncode}: {done.stderr[-300:]}")
    for line in lines:
        print(f"  {line}", flush=True)
    return lines


def script_all(sim: SimulatorControl, behavior: str, **params) -> None:
    sim.reset()
    for provider in PROVIDERS:
        sim.script(provider, [{"behavior": behavior, "times": -1, **params}])


def reset_ours(ours) -> None:
    """Clear our cooldowns between phases (the agent key is an operator key)."""
    with httpx.Client(base_url=ours[0], headers={"Authorization": f"Bearer {ours[1]}"}) as client:
        for provider in PROVIDERS:
            client.post(f"/api/llm/providers/{provider}/reset").raise_for_status()


def latency_cells(sim, found, seconds: float, warmup: float, pause: float) -> list[dict]:
    cells = []
    for delay in DELAYS_S:
        script_all(sim, "ok", delay_s=delay)
        for c in CONCURRENCY:
            cell = {"delay_ms": delay * 1000, "c": c}
            for name, target in found.items():
                wrk(target, c, warmup)
                cell[name] = wrk(target, c, seconds)
                print(
                    f"  upstream {delay * 1000:.0f} ms  c={c:<3} {name:8} {report.brief(cell[name])}",
                    flush=True,
                )
                time.sleep(pause)  # LiteLLM keeps working on requests after wrk disconnects
            cells.append(cell)
    return cells


def failover(sim, found, ours, seconds: float, pause: float) -> dict:
    """Groq answers 429 retry-after 30: requests reaching it during a run shorter than 30 s."""
    out = {}
    for name in ("ours", "litellm"):
        if name not in found:
            continue
        if name == "ours":
            reset_ours(ours)
        sim.reset()
        sim.script("groq", [{"behavior": "rate_limit", "retry_after": 30, "times": -1}])
        first, statuses = sequential(found[name], 1)  # the 429 that starts the cooldown
        result = wrk(found[name], 16, seconds)
        out[name] = {
            "groq_calls": sim.calls().get("groq", 0),
            "first_ms": first[0],
            "result": result,
        }
        out[name]["first_status"] = statuses[0]
        print(
            f"  failover {name:8} groq calls {out[name]['groq_calls']}  {report.brief(result)}",
            flush=True,
        )
        time.sleep(pause)
    return out


def all_down(sim, found, ours, n: int, pause: float) -> dict:
    """Every provider answers 503: how fast does the gateway answer, and with what."""
    out = {}
    for name in ("ours", "litellm"):
        if name not in found:
            continue
        if name == "ours":
            reset_ours(ours)
        script_all(sim, "unavailable", variant="json503")
        latencies, statuses = sequential(found[name], n)
        out[name] = {
            "first_ms": latencies[0],
            "p50_ms": median(latencies[1:]),
            "statuses": sorted(set(statuses)),
            "upstream_calls": sum(sim.calls().values()),
        }
        print(
            f"  all down {name:8} first {latencies[0]:.1f} ms, then p50 {out[name]['p50_ms']:.1f} ms {out[name]['statuses']}"
        )
        time.sleep(pause)
    return out


def memory(ours, theirs) -> dict:
    out = {"ours": [procs.rss_mb(p) for p in procs.descendants(ours[2])]}
    if theirs:
        out["litellm"] = [procs.rss_mb(p) for p in procs.descendants(theirs[2])]
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="2 s per cell: a smoke run")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per cell (default 10)")
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument(
        "--no-litellm", action="store_true", help="measure only us and the upstream"
    )
    parser.add_argument(
        "--no-capacity", action="store_true", help="skip the c=1024 cells at 1 s and 5 s"
    )
    args = parser.parse_args(argv)
    seconds, warmup, pause = (2.0, 1.0, 1.0) if args.quick else (args.seconds, 1.0, 2.0)
    require_wrk()
    with tempfile.TemporaryDirectory(prefix="d8-bench-") as tmp:
        print(f"Starting the simulator, our service ({args.db}) and LiteLLM's proxy...", flush=True)
        with stack.everything(args.db, Path(tmp), with_litellm=not args.no_litellm) as (
            sim_url,
            ours,
            floor,
            theirs,
        ):
            sim = SimulatorControl(sim_url)
            found = targets(sim_url, ours, floor, theirs)
            results = {
                "litellm_client": litellm_client(ours) if theirs else [],
                "streaming": streaming(sim, found, 60 if args.quick else 300),
                "idle": idle(),
                "cells": latency_cells(sim, found, seconds, warmup, pause),
                "cpu_rounds": cpu_rounds(sim, found, seconds, 3 if args.quick else 5),
                "faces": faces.faces(
                    sim, faces.face_targets(ours), seconds, 3 if args.quick else 5
                ),
                "failover": failover(sim, found, ours, min(seconds * 2, 20.0), pause),
                "all_down": all_down(sim, found, ours, 20, pause),
                "capacity": []
                if args.no_capacity
                else capacity.capacity_cells(
                    sim, capacity.targets(sim_url, ours, theirs), 5.0 if args.quick else 20.0, pause
                ),
                "memory": memory(ours, theirs),
            }
    raw = Path(__file__).with_name("results") / "latest.pickle"
    raw.parent.mkdir(exist_ok=True)
    raw.write_bytes(pickle.dumps(results))  # to render the tables again: report.markdown
    text = report.markdown(results, db=args.db, seconds=seconds)
    print("\n" + text)
    out = Path(__file__).with_name("results") / "latest.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text)
    print(f"Written to {out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out}")


if __name__ == "__main__":
    main()
