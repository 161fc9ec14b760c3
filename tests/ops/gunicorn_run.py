"""gunicorn under d8site/gunicorn.conf.py with the smallest app (hello_wsgi), for the tests of
gunicorn's own set-up: started, waited on and stopped as an operator would."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def launch(env: dict, bind: str, log: Path, workers: int = 1) -> subprocess.Popen:
    """gunicorn serving tests.ops.hello_wsgi on `bind`, its output in `log`; not waited on."""
    argv = [sys.executable, "-m", "gunicorn", "-c", "d8site/gunicorn.conf.py"]
    argv += ["--workers", str(workers), "--bind", bind, "tests.ops.hello_wsgi:app"]
    with log.open("w") as out:
        return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def booted(proc: subprocess.Popen, log: Path, workers: int = 1) -> None:
    eventually(lambda: log.read_text().count("Booting worker") >= workers, proc, log)


def eventually(condition, proc: subprocess.Popen, log: Path, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
