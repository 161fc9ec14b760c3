"""CPU time of a server's processes (the master and all its workers), from /proc."""

from __future__ import annotations

import os
from pathlib import Path

from bench import procs

TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def seconds(pid: int) -> float:
    """User + system CPU seconds of pid and every process below it, right now."""
    total = 0.0
    for p in [pid, *procs.descendants(pid)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) * TICK_S  # utime, stime
    return total
