"""`manage.py serve` stops every child it started, even when told twice."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from llmfallback.management.commands.serve import Command


@pytest.fixture
def restored_signals():
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def stubborn_child() -> subprocess.Popen:
    """A child that ignores SIGTERM, as a cluster still starting up may."""
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print(1, flush=True); time.sleep(60)"
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, start_new_session=True
    )
    child.stdout.readline()  # its handler is in place
    return child


def test_a_sigterm_while_stopping_does_not_orphan_a_child(restored_signals):
    command = Command()
    command.stop_wait_s = 0.5
    child = stubborn_child()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # what handle() installs
    signal.signal(signal.SIGALRM, lambda *_: signal.raise_signal(signal.SIGTERM))
    signal.setitimer(signal.ITIMER_REAL, 0.1)  # the second SIGTERM arrives mid-stop
    try:
        command._stop([child])
        assert child.wait(timeout=5) == -signal.SIGKILL
    finally:
        child.kill()  # whatever happened above, no stray process outlives the test
