"""Each gunicorn worker can listen on a socket of its own (d8site/gunicorn.conf.py), so new
connections are spread evenly over the workers, and a port already served is refused.

On one shared socket, whichever worker woke first took a burst of new connections (64/0 seen
in the benchmark), and its threads shared one core while the other worker idled. A socket per
worker is the default only where Linux migrates a dead worker's queued connections
(net.ipv4.tcp_migrate_req=1); WEB_REUSE_PORT=1 turns it on here whatever the machine says.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.net import free_port
from tests.ops.gunicorn_run import ROOT, answering, booted, eventually, launch, served_by, stop

pytestmark = [pytest.mark.multiprocess, pytest.mark.database("sqlite")]

WORKERS = 2
ON = {"WEB_REUSE_PORT": "1"}


def start(env: dict, bind: str, log: Path) -> subprocess.Popen:
    return launch(env, bind, log, workers=WORKERS)


def test_a_burst_of_connections_is_spread_over_the_workers(env, tmp_path):
    port, log = free_port(), tmp_path / "gunicorn.log"
    proc = start(env | ON, f"127.0.0.1:{port}", log)
    try:
        booted(proc, log, WORKERS)
        eventually(lambda: answering(port), proc, log)
        for _ in range(3):
            workers = served_by(port, 64)
            assert len(workers) == WORKERS, workers
            # Spread by the kernel's hash of each connection: 12 or fewer of 64 on one worker
            # happens about once in ten million bursts.
            assert min(workers.values()) > 12, workers
    finally:
        stop(proc)


def test_a_port_already_served_is_refused(env, tmp_path):
    port = free_port()
    first = start(env | ON, f"127.0.0.1:{port}", tmp_path / "first.log")
    try:
        booted(first, tmp_path / "first.log", WORKERS)
        eventually(lambda: answering(port), first, tmp_path / "first.log")
        second = start(env | ON, f"127.0.0.1:{port}", tmp_path / "second.log")
        try:
            assert second.wait(timeout=30) != 0
        finally:
            stop(second)  # had it started after all, it must not outlive the test
        assert "Connection in use: 127.0.0.1" in (tmp_path / "second.log").read_text()
        assert len(served_by(port, 16)) == WORKERS  # the first serves on, alone
    finally:
        stop(first)


@pytest.mark.parametrize("how", ["unix socket", "WEB_REUSE_PORT=0"])
def test_a_unix_socket_or_the_setting_keeps_one_shared_socket(env, tmp_path, how):
    if how == "unix socket":
        bind, extra = f"unix:{tmp_path / 'g.sock'}", ON
    else:
        bind, extra = f"127.0.0.1:{free_port()}", {"WEB_REUSE_PORT": "0"}
    log = tmp_path / "gunicorn.log"
    proc = start(env | extra, bind, log)
    try:
        booted(proc, log, WORKERS)
        time.sleep(0.5)
        text = log.read_text()
        assert "One listening socket per worker" not in text
        assert f"Listening at: {bind.replace('127.0.0.1', 'http://127.0.0.1')}" in text
    finally:
        stop(proc)


@pytest.fixture
def conf(monkeypatch):
    """d8site/gunicorn.conf.py as gunicorn loads it: a file, run as a module of its own."""
    import importlib.util

    monkeypatch.setenv("LLM_SUCCESS_FLUSH_S", "0.25")  # the file sets it when unset
    spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "d8site/gunicorn.conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "setting, sysctl, wanted",
    [
        (None, "1\n", True),  # the kernel migrates a dead worker's queue: safe to spread
        (None, "0\n", False),
        ("auto", "1\n", True),
        (None, None, False),  # no such sysctl (another OS, Linux before 5.14)
        ("1", "0\n", True),  # the operator's word wins either way
        ("on", None, True),
        ("0", "1\n", False),
        ("false", "1\n", False),
    ],
)
def test_a_socket_per_worker_by_default_only_where_linux_migrates_queued_connections(
    conf, tmp_path, setting, sysctl, wanted
):
    migrate_req = tmp_path / "tcp_migrate_req"
    if sysctl is not None:
        migrate_req.write_text(sysctl)
    environ = {} if setting is None else {"WEB_REUSE_PORT": setting}
    assert conf.reuse_port_wanted(environ, str(migrate_req)) is wanted
