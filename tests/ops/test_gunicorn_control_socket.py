"""gunicorn's control socket (`gunicornc`, gunicorn >= 25.1) is one per instance of the service.

gunicorn's default is one path per user. A second gunicorn of the same user took it over, and
whichever stopped first deleted it under the other: `gunicornc -c "worker remove 2"` could reach
the wrong server, or none. d8site/gunicorn.conf.py names it after the port instead.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.net import free_port
from tests.ops.gunicorn_run import booted, eventually, launch, stop

pytestmark = [pytest.mark.multiprocess, pytest.mark.database("sqlite")]


def start(env: dict, port: int, log: Path) -> subprocess.Popen:
    proc = launch(env, f"127.0.0.1:{port}", log)
    booted(proc, log)
    return proc


def control_sockets(where: Path) -> set[str]:
    return {p.name for p in where.rglob("*") if p.is_socket()}


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
