"""The soak drill: `bench/soak [--requests 5000] [--clients 64] [--workers 2] [--db postgresql]`.

Starts the simulator in chaos mode (each provider but one failing at random for a second or two
at a time with every fault class: rate limits with each provider's own hints, quota, 5xx and
edge pages, hangs, keep-alive trickles, slow headers, malformed and truncated bodies, errors
inside a 200, empty answers), gunicorn with several workers on a fresh database, and sends
`--requests` chat requests from `--clients` concurrent clients. Prints the figures and exits
non-zero when a target is missed:

  - every answer is 200 or a documented 4xx/503 (no 5xx, no dropped connection);
  - at least 99 % are 200 (the schedule keeps one provider healthy at every moment);
  - /api/llm/health total_requests equals the requests sent, once buffered successes flush;
  - no more escalations than incidents (bursts closer than --settle seconds are one incident);
  - no provider called during a cooldown the gateway recorded, retries included (calls within
    evidence.IN_FLIGHT_SLACK_S of the cooldown's start were already in flight and are listed);
  - cooldowns grow with time, not with traffic: none longer than its class's base time doubled
    once per earlier episode (evidence.overlong_cooldowns).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import drill, evidence  # noqa: E402

OK_SHARE = 0.99
# The first anchor is the last in priority: every request that meets a fault walks the chain.
ANCHOR = "deepseek"


def chaos_options(args) -> dict:
    return {
        "seed": args.seed,
        "duration_s": args.chaos_s,
        "anchor": ANCHOR,
        "hold_s": args.hold,
        "calm_s": args.calm,
        "burst_s": [1.0, 2.0],
        "gap_s": [args.gap_min, args.gap_max],
        "stall_s": args.stall,
    }


def soak(args, tmp: Path) -> tuple[drill.Targets, dict]:
    """Run one soak; return the targets (met or missed) and the figures."""
    with drill.running(args.db, tmp, args.workers) as (sim, svc):
        sim.reset()
        plan = sim.chaos_start(**chaos_options(args))
        load = drill.run_load(svc, args.requests, args.clients, rate=args.rate)
        sim.chaos_stop()
        health, flush_wait = drill.settled_health(svc, args.requests)
        calls = sim.call_log()["calls"]
        figures = {
            "load": load,
            "plan": plan,
            "health": health,
            "flush_wait_s": flush_wait,
            "calls": calls,
            "cooldowns": evidence.cooldowns(svc.db_env),
            "failures": evidence.failures_by_type(svc.db_env),
            "escalations": evidence.escalations(svc.db_env),
        }
    return judge(args, figures), figures


def judge(args, f: dict) -> drill.Targets:
    load, targets = f["load"], drill.Targets()
    statuses = Counter(o.status for o in load.outcomes)
    odd = {s: n for s, n in statuses.items() if s not in drill.DOCUMENTED}
    targets.check("documented answers only", not odd, f"statuses {dict(statuses)}")
    ok = statuses.get(200, 0) / max(len(load.outcomes), 1)
    targets.check(f">= {OK_SHARE:.0%} answered 200", ok >= OK_SHARE, f"{ok:.2%}")
    total = f["health"]["total_requests"]
    targets.check(
        "health total == requests sent",
        total == args.requests,
        f"{total} of {args.requests} (settled in {f['flush_wait_s']:.2f} s)",
    )
    found = evidence.incidents(
        f["plan"]["bursts"], f["plan"]["started_at"], load.ended_at, args.settle
    )
    opened = [e for e in f["escalations"] if e.opened_at <= load.ended_at + 5]
    targets.check(
        "escalations <= incidents", len(opened) <= len(found), f"{len(opened)} / {len(found)}"
    )
    early, late = evidence.split_in_flight(evidence.calls_in_cooldown(f["calls"], f["cooldowns"]))
    targets.check(
        "no call during a cooldown",
        not late,
        f"{len(late)} calls later than {evidence.IN_FLIGHT_SLACK_S} s into a cooldown, "
        f"{len(early)} in flight when it began"
        + (f" (latest {max(h.into_s for h in early):.2f} s in)" if early else ""),
    )
    overlong = evidence.overlong_cooldowns(f["cooldowns"])
    targets.check(
        "cooldowns grow by episodes",
        not overlong,
        f"{len(overlong)} of {len(f['cooldowns'])} longer than their class and episode allow",
    )
    f |= {"incidents": found, "in_flight": early, "violations": late, "statuses": statuses}
    f["overlong"] = overlong
    return targets


def served_faults(calls: list[dict]) -> dict:
    faults = Counter(f"{c['provider']} {c['served']}" for c in calls if c["served"] != "ok")
    return dict(sorted(faults.items()))


def anchor_turns(plan: dict, until: float) -> str:
    started = plan["started_at"]
    turns = [a for a in plan["anchors"] if started + a["start"] < until]
    return " then ".join(f"{a['provider']} ({a['start']:.0f}-{a['end']:.0f} s)" for a in turns)


def cooldown_summary(cooldowns) -> str:
    """Per class: how many cooldowns and the longest, to show whether they grew with traffic."""
    longest: dict[str, tuple] = {}
    for c in cooldowns:
        name = f"{c.provider} {c.error_type}"
        n, most = longest.get(name, (0, 0.0))
        longest[name] = (n + 1, max(most, c.until - c.began))
    return ", ".join(f"{k} {n} (longest {s:.0f} s)" for k, (n, s) in sorted(longest.items()))


def clock(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%H:%M:%S.%f")[:-3]


def report(args, targets: drill.Targets, f: dict) -> str:
    load = f["load"]
    seconds = load.ended_at - load.started_at
    served = Counter(o.provider or f"status {o.status}" for o in load.outcomes)
    lines = [
        f"Soak: {args.requests} requests, {args.clients} clients, {args.workers} workers, "
        f"{args.db}, seed {args.seed}",
        f"  {seconds:.1f} s, {len(load.outcomes) / seconds:.0f} requests/s; "
        + drill.latency_line(load.outcomes),
        f"  answered by {dict(served)}",
        f"  simulator calls {dict(Counter(c['provider'] for c in f['calls']))}; "
        f"faults served {served_faults(f['calls'])}",
        f"  gateway failures recorded {f['failures']}",
        f"  cooldowns recorded {cooldown_summary(f['cooldowns'])}",
        f"  anchors {anchor_turns(f['plan'], load.ended_at)}; {sum(1 for b in f['plan']['bursts'] if f['plan']['started_at'] + b['start'] < load.ended_at)} fault bursts during the load",
        f"  incidents (bursts < {args.settle:.0f} s apart merged):",
    ]
    lines += [
        f"    {clock(s)} - {clock(e)}  {n} bursts  ({e - s:.1f} s)" for s, e, n in f["incidents"]
    ]
    lines.append(f"  escalations: {len(f['escalations'])}")
    lines += [
        f"    #{e.number} {e.trigger} {e.status} opened {clock(e.opened_at)}"
        + (f" closed {clock(e.closed_at)}" if e.closed_at else "")
        for e in f["escalations"]
    ]
    for hit in f["violations"][:10]:
        lines.append(
            f"    call to {hit.provider} at {clock(hit.at)} ({hit.served}), {hit.into_s:.2f} s into "
            f"a {hit.cooldown.error_type} cooldown until {clock(hit.cooldown.until)}"
        )
    for c, allowed in f["overlong"][:10]:
        lines.append(
            f"    {c.provider} {c.error_type} cooldown from {clock(c.began)}: "
            f"{c.until - c.began:.0f} s, allowed {allowed:.0f} s"
        )
    return "\n".join(lines + ["Targets:", targets.text()])


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--requests", type=int, default=5000)
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    p.add_argument("--seed", type=int, default=1)
    # Paced so the run outlasts the gateway's cooldowns (10-60 s) several times: flat out, 5,000
    # requests take some 20 s, and after the first faults the chaos would go unseen.
    p.add_argument(
        "--rate", type=float, default=40.0, help="requests/s in all (default 40; 0: flat out)"
    )
    p.add_argument("--gap-min", type=float, default=2.0, help="fault-free seconds between bursts")
    p.add_argument("--gap-max", type=float, default=6.0)
    p.add_argument("--stall", type=float, default=30.0, help="seconds a hang or trickle lasts")
    # Turns are there, but one anchor (DeepSeek, last in priority) for the whole run is the
    # default: the first provider in priority then always meets faults, and with three providers
    # a fair turn (calm_s >= the longest base cooldown, 60 s) would leave only one faulting.
    p.add_argument(
        "--hold", type=float, default=3600.0, help="seconds each anchor holds the line in turn"
    )
    p.add_argument(
        "--calm",
        type=float,
        default=60.0,
        help="fault-free seconds before a turn (default: the longest base cooldown in the mix, "
        "a rate limit without a hint)",
    )
    p.add_argument(
        "--settle",
        type=float,
        default=60.0,
        help="bursts closer are one incident (the gateway's LLM_INCIDENT_SETTLE_S)",
    )
    p.add_argument("--chaos-s", type=float, default=900.0, help="chaos ends by itself after this")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="d8-soak-") as tmp:
        print("Starting the simulator (chaos), a fresh database and gunicorn...", flush=True)
        started = time.monotonic()
        targets, figures = soak(args, Path(tmp))
    print(report(args, targets, figures))
    print(f"({time.monotonic() - started:.0f} s in all)")
    return 1 if targets.missed else 0


if __name__ == "__main__":
    sys.exit(main())
