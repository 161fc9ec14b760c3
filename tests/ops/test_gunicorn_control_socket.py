"""gunicorn's control socket (`gunicornc`, gunicorn >= 25.1) is one per instance of the service.

gunicorn's default is one path per user. A second gunicorn of the same user took it over, and
whichever stopped first deleted it under the other: `gunicornc -c "worker remove 2"` could reach
the wrong server, or none. d8site/gunicorn.conf.py names it after the port instead.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.multiprocess, pytest.mark.database("sqlite")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(env: dict, port: int, log: Path, *extra: str) -> subprocess.Popen:
    argv = [sys.executable, "-m", "gunicorn", "-c", "d8site/gunicorn.conf.py"]
    argv += ["--workers", "1", "--bind", f"127.0.0.1:{port}", *extra, "tests.ops.hello_wsgi:app"]
    with log.open("w") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    eventually(lambda: b"Booting worker" in log.read_bytes(), proc, log)
    return proc


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


def control_sockets(where: Path) -> set[str]:
    return {p.name for p in where.rglob("*") if p.is_socket()}


@pytest.fixture
def env(tmp_path):
    """A home of its own: gunicorn's default path is under $HOME (or $XDG_RUNTIME_DIR)."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GUNICORN", "XDG_"))}
    return env | {"HOME": str(home)}


def test_two_instances_keep_a_control_socket_each(env, tmp_path):
    home = Path(env["HOME"])
    a_port, b_port = free_port(), free_port()
    a_name, b_name = f"d8-127.0.0.1-{a_port}.ctl", f"d8-127.0.0.1-{b_port}.ctl"
    a = start(env, a_port, tmp_path / "a.log")
    try:
        b = start(env, b_port, tmp_path / "b.log")
        try:
            eventually(lambda: control_sockets(home) == {a_name, b_name}, b, tmp_path / "b.log")
            stop(a)  # stopping one leaves the other's in place
            assert control_sockets(home) == {b_name}
            assert ask(home / ".gunicorn" / b_name, "show workers")  # and it still answers
        finally:
            stop(b)
    finally:
        stop(a)
    assert control_sockets(home) == set()


def test_a_path_of_ones_own(env, tmp_path):
    chosen = tmp_path / "run" / "gateway.ctl"
    log = tmp_path / "c.log"
    proc = start(env | {"GUNICORN_CONTROL_SOCKET": str(chosen)}, free_port(), log)
    try:
        eventually(chosen.is_socket, proc, log)
        assert control_sockets(Path(env["HOME"])) == set()
    finally:
        stop(proc)


def test_off_means_none(env, tmp_path):
    log = tmp_path / "off.log"
    proc = start(env | {"GUNICORN_CONTROL_SOCKET": "off"}, free_port(), log)
    try:
        time.sleep(1)  # the socket opens in a thread of its own: give it the time it takes
        assert control_sockets(tmp_path) == set()
        assert b"Control socket listening" not in log.read_bytes()
    finally:
        stop(proc)


def ask(path: Path, command: str) -> str:
    """`gunicornc -s PATH -c COMMAND`, as an operator runs it."""
    gunicornc = Path(sys.executable).with_name("gunicornc")
    done = subprocess.run(
        [str(gunicornc), "-s", str(path), "-c", command], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return done.stdout
