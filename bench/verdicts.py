"""bench/run's targets, judged from its results: each a line saying met or missed, with the
figure and the target it was held to (the tables that show the figures are in report.py)."""

from __future__ import annotations

import statistics

GATEWAYS = {
    "pass": "pass-through",
    "v1": "/v1/chat/completions",
    "ours": "/api/llm/chat",
    "litellm": "LiteLLM",
}


def ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} ms"


def added(cell, name) -> tuple[float, float]:
    return cell[name].p50_ms - cell["direct"].p50_ms, cell[name].p99_ms - cell["direct"].p99_ms


def div(a: float, b: float) -> float:
    return a / b if b > 0 else float("inf")


def targets(results) -> list[str]:
    cells = {(c["delay_ms"], c["c"]): c for c in results["cells"]}
    lines = []
    for name in ("v1", "ours"):
        lines += _litellm_targets(cells, name) if "litellm" in results["cells"][0] else []
    lines.append(_cpu_target(results, cells[(0.0, 1)]))
    for delay in (0.0, 50.0):
        lines.append(_streaming_target(results["streaming"], delay))
    errors = sum(c[n].errors for c in results["cells"] for n in ("v1", "ours"))
    errors += results["failover"]["ours"]["result"].errors if "ours" in results["failover"] else 0
    lines.append(target_line(errors == 0, f"errors (ours): {errors}"))
    if "ours" in results["failover"]:
        calls = results["failover"]["ours"]["groq_calls"]
        lines.append(
            target_line(
                calls == 1,
                f"requests reaching Groq during its 30 s cooldown (ours): {calls - 1} after the first 429",
            )
        )
    lines += capacity_targets(results.get("capacity"))
    if results.get("litellm_client"):
        ok = all(x.startswith("OK") for x in results["litellm_client"])
        lines.append(
            target_line(ok, "LiteLLM's client (litellm.completion, model openai/auto) against /v1")
        )
    return lines


def capacity_targets(cells) -> list[str]:
    """Per cell: /v1 ≥ 0.9× direct, ≥ 3× LiteLLM, p99 within the latency + 10 %."""
    lines = []
    for cell in cells or []:
        d, ours, latency = cell["direct"], cell["v1"], cell["delay_ms"]
        kind = f"{'streams' if cell['stream'] else 'calls'}, {latency / 1000:.0f} s, c={cell['c']}"
        lines.append(
            target_line(
                ours.rps >= 0.9 * d.rps,
                f"/v1 {kind}: {ours.rps:.0f} req/s, {div(ours.rps, d.rps):.2f} of direct (≥ 0.9)",
            )
        )
        if "litellm" in cell:
            ratio = div(ours.rps, cell["litellm"].rps)
            lines.append(
                target_line(ratio >= 3, f"/v1 {kind}: {ratio:.1f}× LiteLLM's req/s (≥ 3×)")
            )
        lines.append(
            target_line(
                ours.p99_ms <= latency * 1.1 and ours.errors == 0,
                f"/v1 {kind}: p99 {ours.p99_ms:.0f} ms (≤ {latency * 1.1:.0f}), "
                f"errors {ours.errors}",
            )
        )
    return lines


def _streaming_target(s, delay: float) -> str:
    """Judged on /v1 minus direct; the pass-through's own added time (Django, gunicorn and httpx
    alone, when the run measured it) is shown beside it, and /v1's time beyond that floor."""
    added = s[(delay, "v1")].ttft_ms - s[(delay, "direct")].ttft_ms
    floor = ""
    if (delay, "pass") in s:
        passed = s[(delay, "pass")].ttft_ms - s[(delay, "direct")].ttft_ms
        floor = f"; the bare pass-through adds {passed:.2f} ms, ours {added - passed:+.2f} ms beyond the floor"
    return target_line(
        added <= 2.0,
        f"streaming adds {added:.2f} ms to time to first token at c=1, "
        f"{delay:.0f} ms upstream (target ≤ 2 ms{floor})",
    )


def _cpu_target(results, c1) -> str:
    """From the medians of the alternating c=1 rounds when the run has them, else the cell."""
    rounds = results.get("cpu_rounds")
    if rounds:
        ours, floor = statistics.median(rounds["v1"]), statistics.median(rounds["pass"])
        ratio = statistics.median(
            [div(a, b) for a, b in zip(rounds["v1"], rounds["pass"], strict=True)]
        )
        how = f"median of {len(rounds['v1'])} alternating rounds"
    else:
        ours, floor, how = c1["v1"].cpu_ms or 0.0, c1["pass"].cpu_ms or 0.0, "one cell"
        ratio = div(ours, floor)
    return target_line(
        ratio <= 1.3,
        f"/v1 CPU per request at c=1 {ms(ours)}, {ratio:.2f}× the bare pass-through's "
        f"{ms(floor)} ({how}; target ≤ 1.3×)",
    )


def _litellm_targets(cells, name: str) -> list[str]:
    label = GATEWAYS[name]
    lines = []
    for delay in (0.0, 50.0):
        c1 = cells[(delay, 1)]
        ours, theirs = added(c1, name)[0], added(c1, "litellm")[0]
        lines.append(
            target_line(
                ours <= theirs / 4,
                f"{label}: added p50 at c=1 ({delay:.0f} ms upstream) {ours:.2f} ms, "
                f"{div(ours, theirs):.2f} of LiteLLM's {theirs:.2f} ms (target ≤ ¼)",
            )
        )
    for delay in (0.0, 50.0):
        c = cells[(delay, 64)]
        ratio = div(c[name].rps, c["litellm"].rps)
        lines.append(
            target_line(
                ratio >= 3,
                f"{label}: req/s at c=64, {delay:.0f} ms upstream: {c[name].rps:.0f}, "
                f"{ratio:.1f}× LiteLLM's {c['litellm'].rps:.0f} (target ≥ 3×)",
            )
        )
    return lines


def target_line(ok: bool, text: str) -> str:
    return f"- {'✅ met' if ok else '❌ missed'}: {text}"
