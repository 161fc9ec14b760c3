"""What a running server is made of, read from /proc: its worker processes, their memory and
threads (the benchmarks' RSS and thread figures)."""

from __future__ import annotations

import re
from pathlib import Path


def descendants(pid: int) -> list[int]:
    """Every process below pid (the workers of a server), from /proc."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            children = (
                (task / "children").read_text().split() if (task / "children").exists() else []
            )
            found += [int(c) for c in children]
            todo += [int(c) for c in children]
    return found


def rss_mb(pid: int) -> float:
    return status_number(pid, "VmRSS") / 1024


def threads(pid: int) -> int:
    return status_number(pid, "Threads")


def status_number(pid: int, field: str) -> int:
    """A number from /proc/PID/status (VmRSS is in kB)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+)", status, re.MULTILINE).group(1))
