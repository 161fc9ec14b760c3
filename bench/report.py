"""The Markdown table docs/benchmarks.md shows, with the machine it came from and the targets."""

from __future__ import annotations

import os
import platform
import re
from datetime import UTC, datetime
from pathlib import Path

from bench import verdicts
from bench.faces import lines as faces_lines
from bench.verdicts import GATEWAYS, added, ms


def brief(r) -> str:
    cpu = f"  CPU {r.cpu_ms:.2f} ms/req" if r.cpu_ms is not None else ""
    kinds = f" ({r.error_kinds})" if getattr(r, "error_kinds", "") else ""
    return f"p50 {r.p50_ms:7.2f} ms  p99 {r.p99_ms:7.2f} ms  {r.rps:7.1f} req/s  errors {r.errors}{kinds}{cpu}"


def machine() -> str:
    cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    mem = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
    return (
        f"{os.cpu_count()} cores ({cpu.group(1) if cpu else platform.processor()}), "
        f"{int(mem.group(1)) / 1024 / 1024:.1f} GiB RAM, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b > 0 else "n/a"


def latency_table(cells) -> list[str]:
    """One row per upstream delay and concurrency: each gateway's added p50 / p99 and req/s."""
    names = [n for n in GATEWAYS if n in cells[0]]
    head = "| upstream | c | direct p50 / p99 ms, req/s |"
    head += "".join(f" {GATEWAYS[n]} +p50 / +p99 ms, req/s |" for n in names)
    head += " errors |"
    lines = [head, "|---|---|---|" + "---|" * len(names) + "---|"]
    for cell in cells:
        d = cell["direct"]
        row = f"| {cell['delay_ms']:.0f} ms | {cell['c']} | {d.p50_ms:.2f} / {d.p99_ms:.2f}, {d.rps:.0f} |"
        for n in names:
            p50, p99 = added(cell, n)
            row += f" {p50:+.2f} / {p99:+.2f}, {cell[n].rps:.0f} |"
        row += " " + " / ".join(f"{cell[n].errors}" for n in names) + " |"
        lines.append(row)
    return lines


def cpu_table(cells) -> list[str]:
    """The server's CPU time per request (all its processes), each cell."""
    names = [n for n in GATEWAYS if n in cells[0] and cells[0][n].cpu_ms is not None]
    lines = [
        "| upstream | c |" + "".join(f" {GATEWAYS[n]} |" for n in names) + " /v1 ÷ pass-through |",
        "|---|---|" + "---|" * len(names) + "---|",
    ]
    for cell in cells:
        row = f"| {cell['delay_ms']:.0f} ms | {cell['c']} |"
        row += "".join(f" {ms(cell[n].cpu_ms)} |" for n in names)
        row += f" {_ratio(cell['v1'].cpu_ms or 0.0, cell['pass'].cpu_ms or 0.0)} |"
        lines.append(row)
    return lines


def streaming_table(found) -> list[str]:
    """Added = minus direct; beyond the floor = /v1's first token minus the pass-through's."""
    floor = any(name == "pass" for _, name in found)
    lines = [
        "| upstream | client | first token p50 (p90) ms | added |"
        + (" beyond the pass-through |" if floor else "")
        + " last token p50 ms | added | failures |",
        "|---|---|---|---|" + ("---|" if floor else "") + "---|---|---|",
    ]
    for (delay, name), r in found.items():
        d = found[(delay, "direct")]
        label = {"direct": "direct", "pass": "pass-through stream", "v1": "/v1 stream"}[name]
        beyond = ""
        if floor:
            p = found.get((delay, "pass"))
            beyond = f" {r.ttft_ms - p.ttft_ms:+.2f} |" if name == "v1" and p else " |"
        lines.append(
            f"| {delay:.0f} ms | {label} | {r.ttft_ms:.2f} ({r.ttft_p90_ms:.2f}) "
            f"| {r.ttft_ms - d.ttft_ms:+.2f} |{beyond} {r.ttlt_ms:.2f} | {r.ttlt_ms - d.ttlt_ms:+.2f} "
            f"| {r.failures} |"
        )
    return lines


def idle_lines(idle: str | None) -> list[str]:
    """bench/idle.py's line: how much slower this machine runs Django after 50 ms of sleep."""
    if not idle:
        return []
    return [
        f"What a 50 ms upstream costs any Django gateway here (bench/idle.py): {idle}. A gateway's "
        "thread sleeps while the upstream thinks and runs its whole answer path in that state.",
        "",
    ]


def cpu_rounds_lines(rounds) -> list[str]:
    if not rounds:
        return []
    turns = ", ".join(f"{v:.3f}/{p:.3f}" for v, p in zip(rounds["v1"], rounds["pass"], strict=True))
    return [
        f"CPU per request at c=1 in alternating rounds, /v1 / pass-through ms: {turns}.",
        "",
    ]


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


def capacity_lines(cells) -> list[str]:
    """bench/capacity's table: c=1024 against upstreams answering after 1 s and 5 s."""
    if not cells:
        return []
    from bench.capacity import capacity_table

    head = "At real LLM latencies (bench/capacity.py; streams: 60 tokens over the latency):"
    return [head, "", *capacity_table(cells), ""]


def markdown(results, *, db: str, seconds: float) -> str:
    setup = "PostgreSQL + Redis (scale-out)" if db == "postgresql" else "SQLite (embedded)"
    out = [
        f"## Benchmark ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"Machine: {machine()}. Ours: `gunicorn -c d8site/gunicorn.conf.py d8site.wsgi` on {setup}. "
        "Pass-through: bench/passthrough.py under the same config. LiteLLM: proxy 1.108.7, 2 workers, no database. Upstream: the loopback simulator. "
        f"Load: wrk, {seconds:g} s per cell. Added latency = gateway minus direct at the same concurrency.",
        "",
        *latency_table(results["cells"]),
        "",
        "Server CPU time per request (user + system, all the server's processes, during the cell):",
        "",
        *cpu_table(results["cells"]),
        "",
        *cpu_rounds_lines(results.get("cpu_rounds")),
        "Streaming at c=1 (httpx reading SSE lines; first token = the first chunk with content; "
        "the pass-through relays the upstream's bytes as they arrive):",
        "",
        *streaming_table(results["streaming"]),
        "",
        *idle_lines(results.get("idle")),
        "The other protocols at c=1, in turns with /v1/chat/completions (bench/faces.py):",
        "",
        *faces_lines(results.get("faces")),
        "",
        "LiteLLM's own client against /v1 (bench/litellm_client.py):",
        "",
        *[f"- {x}" for x in results.get("litellm_client") or ["not run"]],
        "",
        "Failover: Groq answers 429 with `retry-after: 30`; one priming request, then c=16.",
        "",
        *failover_table(results["failover"]),
        "",
        "All providers down (503):",
        "",
        *all_down_table(results["all_down"]),
        "",
        *capacity_lines(results.get("capacity")),
        "Resident memory of each worker process after the run:",
        "",
        *memory_lines(results["memory"]),
        "",
        "Targets:",
        "",
        *verdicts.targets(results),
        "",
    ]
    return "\n".join(out)
