"""The crash drill: `bench/crash [--db sqlite|postgresql|both] [--requests 3000] [--clients 64]`.

Sends chat requests to gunicorn with several workers, kills one worker with SIGKILL mid-load and
lets gunicorn start a new one. Prints what was lost and exits non-zero when a target is missed:

  - gunicorn replaces the killed worker, and every request sent after that is answered 200;
  - no answer outside the documented ones; the only requests left unanswered were in flight
    in the killed worker (at most one per client);
  - no corruption: SQLite's `PRAGMA integrity_check` says ok (PostgreSQL is crash-safe by design:
    the service answering and the counts below are what the drill checks there);
  - counts consistent within the buffer window: a killed worker loses the successes it had
    buffered (LLM_SUCCESS_FLUSH_S, 0.25 s under gunicorn) and the calls in flight that reached
    a provider but were never recorded. Answered requests missing from /api/llm/health's
    total, and provider calls missing from the providers' totals, must stay within that bound.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import drill, evidence  # noqa: E402

FLUSH_S = 0.25  # d8site/gunicorn.conf.py sets LLM_SUCCESS_FLUSH_S to this
UPSTREAM_DELAY_S = 0.02  # so calls are in flight when the worker dies
RESTART_LIMIT_S = 15.0


def kill_a_worker(svc: drill.Service, load: drill.Load, after: int, workers: int) -> dict:
    """Once `after` answers are in, SIGKILL one worker; wait for gunicorn to replace it."""
    while load.count() < after and not load.done.is_set():
        time.sleep(0.01)
    victim = svc.worker_pids()[0]
    killed_at = time.time()
    os.kill(victim, signal.SIGKILL)
    while True:
        pids = svc.worker_pids()
        if victim not in pids and len(pids) >= workers:
            return {"pid": victim, "killed_at": killed_at, "restarted_at": time.time()}
        if time.time() - killed_at > RESTART_LIMIT_S:
            return {"pid": victim, "killed_at": killed_at, "restarted_at": None}
        time.sleep(0.05)


def crash(db: str, args, tmp: Path) -> tuple[drill.Targets, dict]:
    with drill.running(db, tmp, args.workers) as (sim, svc):
        sim.reset()
        for provider in ("groq", "gemini", "deepseek"):
            sim.script(provider, [{"behavior": "ok", "delay_s": UPSTREAM_DELAY_S, "times": -1}])
        load, kill = drill.Load(), {}

        def killer():
            kill.update(kill_a_worker(svc, load, int(args.requests * 0.4), args.workers))

        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        drill.run_load(svc, args.requests, args.clients, load=load)
        thread.join()
        answered = sum(1 for o in load.outcomes if o.status is not None)
        health, _ = drill.settled_health(svc, answered, timeout=3.0)
        figures = {
            "load": load,
            "kill": kill,
            "health": health,
            "sim_calls": sum(sim.calls().values()),
            "integrity": integrity(db, svc),
        }
        with svc.client() as client:  # the service still answers after the drill
            figures["after"] = client.post("/api/llm/chat", json=drill.BODY).status_code
    return judge(args, figures), figures


def integrity(db: str, svc: drill.Service) -> str:
    if db == "sqlite":
        return evidence.rows(svc.db_env, "PRAGMA integrity_check")[0][0]
    evidence.rows(svc.db_env, "SELECT COUNT(*) FROM llmfallback_errorevent")  # readable
    return "ok (PostgreSQL)"


def lost_bound(load: drill.Load, killed_at: float) -> int:
    """Successes answered in two flush windows before the kill: what a buffer could hold."""
    window = 2 * FLUSH_S
    return sum(
        1
        for o in load.outcomes
        if o.status == 200 and killed_at - window <= o.sent_at + o.latency_s <= killed_at
    )


def judge(args, f: dict) -> drill.Targets:
    load, kill, targets = f["load"], f["kill"], drill.Targets()
    restarted = kill.get("restarted_at")
    targets.check(
        "worker replaced",
        restarted is not None,
        f"pid {kill.get('pid')} killed, a new one forked {(restarted or math.nan) - kill['killed_at']:.2f} s later",
    )
    statuses = Counter(o.status for o in load.outcomes)
    odd = {s: n for s, n in statuses.items() if s is not None and s not in drill.DOCUMENTED}
    dropped = statuses.get(None, 0)
    targets.check("documented answers only", not odd, f"statuses {dict(statuses)}")
    # Each client has one request in flight at most, so at most one per client can be cut off.
    late_drops = [o for o in load.outcomes if o.status is None and o.sent_at > (restarted or 0)]
    targets.check(
        "unanswered only at the kill",
        dropped <= args.clients and not late_drops,
        f"{dropped} cut off ({', '.join(sorted({o.error for o in load.outcomes if o.error}))}), "
        f"{len(late_drops)} after the new worker",
    )
    later = [o for o in load.outcomes if restarted and o.sent_at > restarted]
    ok_later = sum(1 for o in later if o.status == 200)
    targets.check(
        "answers after the restart",
        ok_later == len(later) and f["after"] == 200,
        f"{ok_later} of {len(later)} 200, then {f['after']}",
    )
    targets.check("no corruption", f["integrity"].startswith("ok"), f["integrity"])
    answered = len(load.outcomes) - dropped
    total = f["health"]["total_requests"]
    bound = lost_bound(load, kill["killed_at"])
    lost = answered - total
    targets.check(
        "requests counted",
        -dropped <= lost <= bound,
        f"{total} counted of {answered} answered: {lost} lost, bound {bound}",
    )
    recorded = sum(p["total_requests"] for p in f["health"]["providers"].values())
    lost_calls = f["sim_calls"] - recorded
    targets.check(
        "provider calls counted",
        0 <= lost_calls <= bound + dropped,
        f"{recorded} recorded of {f['sim_calls']} made: {lost_calls} lost, bound {bound + dropped}",
    )
    return targets


def report(db: str, args, targets: drill.Targets, f: dict) -> str:
    load = f["load"]
    seconds = load.ended_at - load.started_at
    return "\n".join(
        [
            f"Crash: {args.requests} requests, {args.clients} clients, {args.workers} workers, {db}",
            f"  {seconds:.1f} s, {len(load.outcomes) / seconds:.0f} requests/s; "
            + drill.latency_line([o for o in load.outcomes if o.status is not None]),
            "Targets:",
            targets.text(),
        ]
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    p.add_argument("--requests", type=int, default=3000)
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--workers", type=int, default=2)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    missed = False
    for db in dbs:
        with tempfile.TemporaryDirectory(prefix="d8-crash-") as tmp:
            print(f"Starting the simulator, a fresh {db} database and gunicorn...", flush=True)
            targets, figures = crash(db, args, Path(tmp))
        print(report(db, args, targets, figures), flush=True)
        missed |= bool(targets.missed)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
