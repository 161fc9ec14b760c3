"""The web workers run with glibc's per-thread cache of freed chunks off (d8site/malloc_tuning.py):
with 512 threads a worker, those caches made RSS climb for as long as 1,000 streams were served.
GLIBC_TUNABLES is read only when a program starts, so the master starts itself again with it,
keeping its pid (a supervisor still tracks it), unless the operator said otherwise."""

from __future__ import annotations

import os
import platform
import socket
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from d8site import malloc_tuning
from tests.net import free_port
from tests.ops.gunicorn_run import answering, ask, booted, eventually, launch, stop

GLIBC = platform.libc_ver()[0] == "glibc"


def tunables_of(pid: int) -> str:
    """GLIBC_TUNABLES as the process was started with it: what glibc read."""
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    found = [v for v in environ if v.startswith(b"GLIBC_TUNABLES=")]
    return found[0].split(b"=", 1)[1].decode() if found else ""


@pytest.mark.parametrize(
    "environ, expected",
    [
        ({}, "glibc.malloc.tcache_count=0"),
        (
            {"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"},
            "glibc.malloc.arena_max=2:glibc.malloc.tcache_count=0",
        ),
        ({"WEB_MALLOC_TUNING": "true"}, "glibc.malloc.tcache_count=0"),
    ],
)
def test_the_cache_is_turned_off_and_other_tunables_kept(environ, expected):
    tuned = malloc_tuning.tuned_environ(environ | {"PATH": "/bin"}, libc="glibc")
    assert tuned["GLIBC_TUNABLES"] == expected
    assert tuned["PATH"] == "/bin"


@pytest.mark.parametrize(
    "environ, libc",
    [
        ({"WEB_MALLOC_TUNING": "false"}, "glibc"),
        ({"WEB_MALLOC_TUNING": "0"}, "glibc"),
        ({"GLIBC_TUNABLES": "glibc.malloc.tcache_count=7"}, "glibc"),  # the operator's choice
        ({"GLIBC_TUNABLES": "glibc.malloc.arena_max=2:glibc.malloc.tcache_count=3"}, "glibc"),
        ({}, ""),  # musl, macOS: no such tunable
    ],
)
def test_nothing_changes_when_declined_chosen_already_or_not_glibc(environ, libc):
    assert malloc_tuning.tuned_environ(environ, libc=libc) is None


def test_the_master_starts_again_where_it_was_started_with_the_same_arguments(tmp_path):
    calls = []
    server = SimpleNamespace(log=SimpleNamespace(info=lambda *a: None))
    server.START_CTX = {"cwd": str(tmp_path)}

    def execve(path, argv, env):
        calls.append((path, argv, env, Path.cwd()))

    here = Path.cwd()
    try:
        malloc_tuning.restart_tuned(server, environ={}, execve=execve)
    finally:
        os.chdir(here)
    if not GLIBC:
        assert calls == []
        return
    [(path, argv, env, cwd)] = calls
    assert path == sys.executable
    assert argv == [sys.executable, *sys.orig_argv[1:]]
    assert env["GLIBC_TUNABLES"] == "glibc.malloc.tcache_count=0"
    assert cwd == tmp_path


@pytest.mark.multiprocess
@pytest.mark.database("sqlite")
@pytest.mark.skipif(not GLIBC, reason="GLIBC_TUNABLES exists only in glibc")
@pytest.mark.parametrize("declined", [False, True])
def test_gunicorn_workers_run_with_the_tuned_allocator(env, tmp_path, declined):
    port, log = free_port(), tmp_path / "gunicorn.log"
    extra = {"WEB_MALLOC_TUNING": "false"} if declined else {}
    env = {k: v for k, v in env.items() if k != "GLIBC_TUNABLES"} | extra
    proc = launch(env, f"127.0.0.1:{port}", log)
    try:
        booted(proc, log)
        eventually(lambda: answering(port), proc, log)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            worker = int(ask(sock, port))
        master = proc.pid  # started again in place: the pid a supervisor holds is still it
        assert tunables_of(master) == ("" if declined else "glibc.malloc.tcache_count=0")
        assert tunables_of(worker) == tunables_of(master)
        assert log.read_text().count("Starting again with GLIBC_TUNABLES") == (0 if declined else 1)
    finally:
        stop(proc)
