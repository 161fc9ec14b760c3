"""gunicorn under d8site/gunicorn.conf.py with the smallest app (hello_wsgi), for the tests of
gunicorn's own set-up: started, waited on and stopped as an operator would."""

from __future__ import annotations

import collections
import http.client
import signal
import socket
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


def ask(sock: socket.socket, port: int, path: str = "/") -> bytes:
    """One GET to hello_wsgi on an open connection: the pid of the worker that answered."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.sock = sock
    conn.request("GET", path)
    return conn.getresponse().read().split()[1]


def served_by(port: int, connections: int) -> collections.Counter:
    """Open `connections` at once, wait until the workers accepted them all (each then holds a
    thread waiting for its request), then ask once on each: how many each worker answered."""
    opened = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(connections)]
    try:
        deadline = time.monotonic() + 10
        while accepted(port) < connections:
            assert time.monotonic() < deadline, f"{accepted(port)} of {connections} accepted"
            time.sleep(0.01)
        return collections.Counter(ask(sock, port) for sock in opened)
    finally:
        for sock in opened:
            sock.close()


def accepted(port: int) -> int:
    """Connections to `port` a process has accepted (those still in the backlog have none)."""
    out = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sum("pid=" in line for line in out.splitlines())


def answering(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            return bool(ask(sock, port))
    except OSError:
        return False
