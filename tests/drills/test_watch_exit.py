"""A drill that fails half-way must still end its process: the watchers' threads never hold it
at exit. (A hosts drill that raised between starting its probe watch and stopping it left the
test run hanging after its summary, every agent thread still spinning on a dead port.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FAILS_WHILE_WATCHING = """
import sys, time
sys.path.insert(0, {root!r})
from bench.watch import DrainWatch, ProbeWatch

class Host:  # a host that never starts serving and never exits: the worst a failure leaves
    serving, port = True, 9  # the discard port: refused at once
    def term(self): pass
    def alive(self): return True

ProbeWatch([Host()]).start()
DrainWatch(Host()).start()
time.sleep(0.3)
raise SystemExit("the drill failed here")
"""


def test_a_drill_that_fails_while_its_watchers_run_still_exits():
    script = FAILS_WHILE_WATCHING.format(root=str(ROOT))
    try:
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=20
        )
    except subprocess.TimeoutExpired:
        raise AssertionError("the process was still waiting for its watchers 20 s later") from None
    assert done.returncode == 1
    assert "the drill failed here" in done.stderr
