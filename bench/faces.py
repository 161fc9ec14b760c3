"""The other protocols' happy path against /v1/chat/completions: `bench/faces.py [--seconds 5]`.

Starts the simulator and our service (SQLite, the production gunicorn config, no LiteLLM),
then at c=1 and an instant upstream measures /v1/chat/completions, /v1/messages and
/v1/responses in turns (wrk: p50 latency, and the server's CPU per request), several rounds, and
prints each face's median and its difference from /v1/chat/completions. Issue 23's target: each
within 0.3 ms of /v1/chat/completions. bench/run.py runs this phase too.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import stack  # noqa: E402
from bench.load import PROMPT, Target, require_wrk, wrk  # noqa: E402
from llmfallback.simulator.control import SimulatorControl  # noqa: E402

FACES = ("v1", "messages", "responses")
TARGET_MS = 0.3


def face_targets(ours) -> dict[str, Target]:
    """The same prompt through each face, with the agent key as a Bearer token."""
    url, key, pid = ours
    auth = f"Bearer {key}"
    return {
        "v1": Target(
            "v1", f"{url}/v1/chat/completions", auth, {"model": "auto", "messages": PROMPT}, pid
        ),
        "messages": Target(
            "messages",
            f"{url}/v1/messages",
            auth,
            {"model": "auto", "max_tokens": 64, "messages": PROMPT},
            pid,
        ),
        "responses": Target(
            "responses", f"{url}/v1/responses", auth, {"model": "auto", "input": PROMPT}, pid
        ),
    }


def faces(sim: SimulatorControl, found: dict[str, Target], seconds: float, rounds: int) -> dict:
    """{face: {"p50": [ms per round], "cpu": [ms per round]}}: the faces in turns, so whatever
    else the machine does in a round weighs on each alike."""
    sim.reset()
    for provider in ("groq", "gemini", "deepseek"):
        sim.script(provider, [{"behavior": "ok", "times": -1, "delay_s": 0.0}])
    out = {name: {"p50": [], "cpu": [], "errors": 0} for name in FACES}
    for n in range(rounds):
        for name in FACES:
            wrk(found[name], 1, 1.0)  # warm the connection pool and the worker
            result = wrk(found[name], 1, seconds)
            out[name]["p50"].append(result.p50_ms)
            out[name]["cpu"].append(result.cpu_ms or 0.0)
            out[name]["errors"] += result.errors
        line = ", ".join(f"{k} {out[k]['p50'][-1]:.3f}/{out[k]['cpu'][-1]:.3f}" for k in FACES)
        print(f"  faces round {n + 1} (p50/CPU ms): {line}", flush=True)
    return out


def lines(measured: dict | None) -> list[str]:
    """A Markdown table: each face's median p50 and CPU per request, and its difference."""
    if not measured:
        return ["not run"]
    base = {k: statistics.median(measured["v1"][k]) for k in ("p50", "cpu")}
    rows = [
        "| face | p50 at c=1 | vs /v1/chat/completions | CPU per request | vs /v1/chat/completions | errors |",
        "|---|---|---|---|---|---|",
    ]
    for name in FACES:
        p50, cpu = (statistics.median(measured[name][k]) for k in ("p50", "cpu"))
        rows.append(
            f"| {name} | {p50:.3f} ms | {p50 - base['p50']:+.3f} ms | {cpu:.3f} ms"
            f" | {cpu - base['cpu']:+.3f} ms | {measured[name]['errors']} |"
        )
    worst = max(statistics.median(measured[n]["p50"]) - base["p50"] for n in FACES if n != "v1")
    verdict = "met" if worst <= TARGET_MS else "MISSED"
    rows.append(
        f"\nTarget (each face within {TARGET_MS} ms of /v1/chat/completions at p50): {verdict}."
    )
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per cell (default 5)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    require_wrk()
    with tempfile.TemporaryDirectory(prefix="d8-faces-") as tmp:
        tmp = Path(tmp)
        with (
            stack.simulator(tmp) as sim_url,
            stack.database("sqlite", tmp) as db_env,
            stack.our_service(sim_url, db_env, tmp) as ours,
        ):
            measured = faces(
                SimulatorControl(sim_url), face_targets(ours), args.seconds, args.rounds
            )
    print("\n".join(["", *lines(measured)]))


if __name__ == "__main__":
    main()
