"""The Markdown table the README shows, with the machine it came from and the targets."""

from __future__ import annotations

import os
import platform
import re
from datetime import UTC, datetime
from pathlib import Path


def brief(r) -> str:
    return f"p50 {r.p50_ms:7.2f} ms  p99 {r.p99_ms:7.2f} ms  {r.rps:7.1f} req/s  errors {r.errors}"


def machine() -> str:
    cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    mem = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
    return (
        f"{os.cpu_count()} cores ({cpu.group(1) if cpu else platform.processor()}), "
        f"{int(mem.group(1)) / 1024 / 1024:.1f} GiB RAM, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def _added(cell, name) -> tuple[float, float]:
    return cell[name].p50_ms - cell["direct"].p50_ms, cell[name].p99_ms - cell["direct"].p99_ms


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}×" if b > 0 else "n/a"


def _div(a: float, b: float) -> float:
    return a / b if b > 0 else float("inf")


def latency_table(cells) -> list[str]:
    has_litellm = "litellm" in cells[0]
    head = (
        "| upstream | c | direct p50 / p99 ms | direct req/s | ours +p50 / +p99 ms | ours req/s |"
    )
    rule = "|---|---|---|---|---|---|"
    if has_litellm:
        head += " LiteLLM +p50 / +p99 ms | LiteLLM req/s | added p50 LiteLLM÷ours | req/s ours÷LiteLLM |"
        rule += "---|---|---|---|"
    head += " req/s ours÷direct | errors ours / LiteLLM |"
    rule += "---|---|"
    lines = [head, rule]
    for cell in cells:
        d, o = cell["direct"], cell["ours"]
        op50, op99 = _added(cell, "ours")
        row = f"| {cell['delay_ms']:.0f} ms | {cell['c']} | {d.p50_ms:.2f} / {d.p99_ms:.2f} | {d.rps:.0f} "
        row += f"| {op50:+.2f} / {op99:+.2f} | {o.rps:.0f} |"
        errors = f"{o.errors}"
        if has_litellm:
            t = cell["litellm"]
            tp50, tp99 = _added(cell, "litellm")
            row += f" {tp50:+.2f} / {tp99:+.2f} | {t.rps:.0f} | {_ratio(tp50, op50)} | {_ratio(o.rps, t.rps)} |"
            errors += f" / {t.errors}"
        row += f" {o.rps / d.rps:.2f} | {errors} |"
        lines.append(row)
    return lines


def failover_table(failover) -> list[str]:
    lines = [
        "| gateway | requests reaching Groq (1 priming + the run) | first request ms | fallen-back p50 / p99 ms | req/s | errors |",
        "|---|---|---|---|---|---|",
    ]
    for name, f in failover.items():
        r = f["result"]
        lines.append(
            f"| {name} | {f['groq_calls']} | {f['first_ms']:.1f} (HTTP {f['first_status']}) "
            f"| {r.p50_ms:.2f} / {r.p99_ms:.2f} | {r.rps:.0f} | {r.errors} |"
        )
    return lines


def all_down_table(down) -> list[str]:
    lines = [
        "| gateway | first answer ms | next answers p50 ms | status | upstream calls for 20 requests |",
        "|---|---|---|---|---|",
    ]
    for name, d in down.items():
        lines.append(
            f"| {name} | {d['first_ms']:.1f} | {d['p50_ms']:.1f} | {', '.join(map(str, d['statuses']))} "
            f"| {d['upstream_calls']} |"
        )
    return lines


def memory_lines(mem) -> list[str]:
    return [
        f"- {name}: " + ", ".join(f"{mb:.0f} MB" for mb in sizes) + f" (total {sum(sizes):.0f} MB)"
        for name, sizes in mem.items()
    ]


def targets(results) -> list[str]:
    cells = {(c["delay_ms"], c["c"]): c for c in results["cells"]}
    lines = []
    if "litellm" in results["cells"][0]:
        c1 = cells[(50.0, 1)]
        ours, theirs = _added(c1, "ours")[0], _added(c1, "litellm")[0]
        lines.append(
            _check(
                ours <= theirs / 4,
                f"added p50 at c=1 (50 ms upstream) {ours:.2f} ms ≤ ¼ of LiteLLM's {theirs:.2f} ms",
            )
        )
        for delay in (0.0, 50.0):
            c = cells[(delay, 64)]
            ratio = _div(c["ours"].rps, c["litellm"].rps)
            lines.append(
                _check(
                    ratio >= 3,
                    f"req/s at c=64, {delay:.0f} ms upstream: {ratio:.1f}× LiteLLM's (target ≥ 3×)",
                )
            )
    c16 = cells[(50.0, 16)]
    share = _div(c16["ours"].rps, c16["direct"].rps)
    lines.append(
        _check(
            share >= 0.9,
            f"req/s at c=16, 50 ms upstream: {share:.0%} of calling the upstream directly (target ≥ 90 %)",
        )
    )
    errors = sum(c["ours"].errors for c in results["cells"])
    errors += results["failover"]["ours"]["result"].errors if "ours" in results["failover"] else 0
    lines.append(_check(errors == 0, f"errors (ours): {errors}"))
    if "ours" in results["failover"]:
        calls = results["failover"]["ours"]["groq_calls"]
        lines.append(
            _check(
                calls == 1,
                f"requests reaching Groq during its 30 s cooldown (ours): {calls - 1} after the first 429",
            )
        )
    return lines


def _check(ok: bool, text: str) -> str:
    return f"- {'✅ met' if ok else '❌ missed'}: {text}"


def markdown(results, *, db: str, seconds: float) -> str:
    setup = "PostgreSQL + Redis (scale-out)" if db == "postgresql" else "SQLite (embedded)"
    out = [
        f"## Benchmark ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"Machine: {machine()}. Ours: `gunicorn -c d8site/gunicorn.conf.py d8site.wsgi` on {setup}. "
        "LiteLLM: proxy 1.108.7, 2 workers, no database. Upstream: the loopback simulator. "
        f"Load: wrk, {seconds:g} s per cell. Added latency = gateway minus direct at the same concurrency.",
        "",
        *latency_table(results["cells"]),
        "",
        "Failover: Groq answers 429 with `retry-after: 30`; one priming request, then c=16.",
        "",
        *failover_table(results["failover"]),
        "",
        "All providers down (503):",
        "",
        *all_down_table(results["all_down"]),
        "",
        "Resident memory of each worker process after the run:",
        "",
        *memory_lines(results["memory"]),
        "",
        "Targets:",
        "",
        *targets(results),
        "",
    ]
    return "\n".join(out)
