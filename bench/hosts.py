"""The hosts drill: `bench/hosts [--phase-s 30] [--agents 48] [--json FILE]`.

Two instances share one PostgreSQL and one Redis behind a real HAProxy running the sample
configuration (ops/haproxy/haproxy.cfg); agents chat and stream through it while Groq fails in
bursts. Four phases of --phase-s each:

  1. both hosts serve;
  2. host a is killed with SIGKILL (a machine that dies);
  3. host a is started again and serves beside b;
  4. host b is stopped with SIGTERM and drains.

It reports answers by status (errors only among the requests in flight at the kill), the
connections left unanswered during the drain (none), HAProxy's checks (a host marked down only
when killed or drained) and the readiness probes' latency under load,
health totals against the requests answered, the escalations, and the upstream calls each Groq
burst cost with one host serving and with two. Exits non-zero when a target is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import balancer, crash, drill, fleet  # noqa: E402
from bench.watch import DrainWatch, ProbeWatch  # noqa: E402

RISE_S = 2.5
# A failure sent this soon after the kill is the kill's too: the balancer has not refused a
# connection to the dead host yet, or an agent reuses a connection the kill had cut.
KILL_NOTICED_S = 1.0  # the sample's `rise 2` at `inter 1s`, and a margin: a restarted host is back


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bench/hosts", description=__doc__.split("\n\n")[0])
    p.add_argument("--phase-s", type=float, default=30.0, help="seconds per phase (4 phases)")
    p.add_argument("--agents", type=int, default=48, help="concurrent agents, half streaming")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers per host")
    p.add_argument("--threads", type=int, default=16, help="threads per worker")
    p.add_argument("--bursts", type=int, default=2, help="Groq bursts per phase")
    p.add_argument("--burst-s", type=float, default=2.0, help="seconds each burst lasts")
    p.add_argument("--client-timeout", type=float, default=drill.CLIENT_TIMEOUT_S)
    p.add_argument("--json", type=Path, help="also write the figures here")
    p.add_argument("--keep", type=Path, help="keep the logs (hosts', HAProxy's) in this folder")
    return p


def phase(f: fleet.Fleet, lb: str, sim, args, hosts_serving: int, bursts: list) -> None:
    """--phase-s seconds with --bursts Groq bursts spread evenly over them."""
    started, gap = time.monotonic(), args.phase_s / args.bursts
    for k in range(args.bursts):
        time.sleep(max(0.0, started + k * gap + (gap - args.burst_s) / 2 - time.monotonic()))
        bursts.append(fleet.burst(f, lb, sim, args.burst_s, hosts_serving))
    time.sleep(max(0.0, started + args.phase_s - time.monotonic()))


def drill_hosts(args, tmp: Path) -> tuple[drill.Targets, dict]:
    from llmfallback.simulator.control import SimulatorControl

    with fleet.fleet(tmp, 2, args.workers, args.threads) as f:
        addresses = [f"127.0.0.1:{h.port}" for h in f.hosts]
        with balancer.haproxy(addresses, tmp / "haproxy", log=True) as lb:
            sim = SimulatorControl(f.sim_url, timeout=30.0)
            sim.reset()
            for name in ("groq", "gemini", "deepseek"):
                sim.script(name, [{"behavior": "ok", "delay_s": 0.05, "times": -1}])
            figures = scenario(f, lb, sim, args)
            figures["health"] = fleet.settled_health(f, lb, figures["answered"])
            figures["escalations"] = fleet.escalations(f, lb)
            figures["balancer_down"] = balancer.haproxy_downs(tmp / "haproxy")
            sim.close()
    return judge(figures), figures


def scenario(f: fleet.Fleet, lb: str, sim, args) -> dict:
    a, b = f.hosts
    agents = fleet.Agents(f, lb, args.agents, timeout=args.client_timeout)
    probes = ProbeWatch([a, b])
    bursts: list[fleet.Burst] = []
    with contextlib.ExitStack() as started:  # a phase that fails still stops the agents
        agents.start()
        started.callback(agents.stop)
        probes.start()
        started.callback(probes.stop)
        phase(f, lb, sim, args, 2, bursts)
        killed_at = time.time()
        a.kill()
        # With 48 agent threads in this process, the GIL can hold this thread for a while
        # between reading the clock and the kill: it happened in [killed_at, kill_seen_at].
        kill_seen_at = time.time()
        phase(f, lb, sim, args, 1, bursts)
        a.start()
        a.wait_ready()
        time.sleep(RISE_S)
        phase(f, lb, sim, args, 2, bursts)
        drain = DrainWatch(b)
        drain.start()
        phase(f, lb, sim, args, 1, bursts)
    drain.stop()
    answered = sum(1 for o in agents.outcomes if o.status is not None)
    return {
        "outcomes": agents.outcomes,
        "answered": answered,
        "killed_at": killed_at,
        "kill_seen_at": kill_seen_at,
        "drain": drain.figures(),
        "probes": probes.figures(),
        "bursts": bursts,
    }


def at_kill(o: drill.Outcome, f: dict) -> bool:
    """In flight at some moment the kill may have happened."""
    return o.sent_at <= f["kill_seen_at"] and o.sent_at + o.latency_s >= f["killed_at"]


def failure(o: drill.Outcome, f: dict) -> str:
    at = o.sent_at - f["killed_at"]
    return f"{o.provider} sent {at:+.2f} s from the kill, {o.latency_s:.2f} s: {o.status} {o.error}"


def lost_bound(outcomes: list, f: dict) -> int:
    """What the killed host may not have counted: its calls in flight, and the successes in
    its buffer (written every LLM_SUCCESS_FLUSH_S, 0.25 s; two windows, as bench/crash)."""
    window = 2 * crash.FLUSH_S
    start, end = f["killed_at"] - window, f["kill_seen_at"]
    buffered = [o for o in outcomes if start <= o.sent_at + o.latency_s <= end]
    return sum(1 for o in outcomes if at_kill(o, f)) + len(buffered)


def judge(f: dict) -> drill.Targets:
    outcomes, targets, drain = f["outcomes"], drill.Targets(), f["drain"]
    statuses = Counter(o.status for o in outcomes)
    failed = [o for o in outcomes if o.status is None or o.status not in drill.DOCUMENTED]
    in_flight = [o for o in outcomes if at_kill(o, f)]
    stray = [o for o in failed if not at_kill(o, f)]
    late = [o for o in stray if o.sent_at > f["kill_seen_at"] + KILL_NOTICED_S]
    targets.check(
        "answers",
        len(failed) <= len(in_flight) and not late,
        f"{dict(sorted(statuses.items(), key=str))}; {len(failed)} failed, no more than were in "
        f"flight at the kill ({len(in_flight)}), {len(stray)} of them sent within "
        f"{KILL_NOTICED_S:.0f} s after it, none later"
        + "".join(f"\n            {failure(o, f)}" for o in stray[:5]),
    )
    in_drain = [o for o in outcomes if drain["signalled_at"] <= o.sent_at <= drain["exited_at"]]
    lost = [o for o in in_drain if o.status is None]
    targets.check(
        "drain: none unanswered",
        not lost and drain["left_waiting"] == 0,
        f"{len(in_drain)} requests through the balancer during the drain, {len(lost)} "
        f"unanswered; direct connections: {drain['outcomes']}, {drain['left_waiting']} left waiting",
    )
    targets.check(
        "drain: port closed at once",
        drain["refused_after_s"] < 1.0,
        f"refused {drain['refused_after_s'] * 1000:.0f} ms after SIGTERM; exited after "
        f"{drain['exited_at'] - drain['signalled_at']:.2f} s",
    )
    down = f["balancer_down"]
    targets.check(
        "balancer's checks",
        len(down) == 2 and not any("timeout" in d or "status" in d for d in down),
        f"HAProxy marked a host down {len(down)} time(s), expected twice (the killed host, "
        f"the drained one), never for a check that timed out or a 503: {down}",
    )
    gap, bound = f["answered"] - f["health"]["total_requests"], lost_bound(outcomes, f)
    targets.check(
        "health totals",
        abs(gap) <= bound,
        f"{f['answered']} answered, health counts {f['health']['total_requests']} (difference "
        f"{gap}; bound {bound}: in flight at the kill, or answered in the two flush windows "
        "before it, whose counts the killed host may have held)",
    )
    return targets


def burst_line(bursts: list, hosts: int) -> str:
    mine = [b for b in bursts if b.hosts_serving == hosts]
    if not mine:
        return f"{hosts} host(s): no burst"
    calls = [b.upstream_calls for b in mine]
    cooling = sum(b.cooling_at_start for b in mine)
    return (
        f"{hosts} host(s): {statistics.mean(calls):.1f} upstream calls per burst (each: {calls}"
        f"{f'; {cooling} found Groq cooling right after its reset' if cooling else ''})"
    )


def report(args, targets: drill.Targets, f: dict) -> str:
    escalations = f["escalations"]
    hosts = Counter(e["file_host"] for e in escalations)
    return "\n".join(
        [
            f"hosts drill: 2 hosts x {args.workers} workers x {args.threads} threads behind "
            f"HAProxy, {args.agents} agents, 4 phases of {args.phase_s:.0f} s",
            f"requests: {len(f['outcomes'])} sent, {f['answered']} answered; "
            + drill.latency_line([o for o in f["outcomes"] if o.status == 200]),
            f"escalations: {len(escalations)} (files on {dict(hosts)})",
            "/readyz, seen from this process (whose agent threads share its GIL): "
            + "p50 {p50_ms:.1f} ms, p99 {p99_ms:.1f} ms, max {max_ms:.1f} ms over {count}".format(
                **f["probes"]
            ),
            "Groq bursts of " + f"{args.burst_s:.0f} s: " + burst_line(f["bursts"], 1),
            "                 " + burst_line(f["bursts"], 2),
            targets.text(),
        ]
    )


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        targets, figures = drill_hosts(args, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="d8-hosts-") as tmp:
            targets, figures = drill_hosts(args, Path(tmp))
    print(report(args, targets, figures))
    if args.json:
        fleet.dump(args.json, {k: v for k, v in figures.items() if k != "outcomes"})
    return 1 if targets.missed else 0


if __name__ == "__main__":
    sys.exit(main())
