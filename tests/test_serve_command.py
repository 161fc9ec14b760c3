"""`manage.py serve` stops every child it started, even when told twice."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

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


def test_stopping_signals_each_childs_main_process_and_kills_what_it_left(
    tmp_path, restored_signals
):
    """The main process stops its own children in its order (django-q2's cluster does: its
    workers, signalled with it, died under it while it waited on them); whatever it leaves in
    its group is killed once it is gone, without waiting out stop_wait_s."""
    flag, pid_file = tmp_path / "grandchild-got-sigterm", tmp_path / "grandchild.pid"
    grandchild = (
        "import os, signal, sys, time; "
        f"signal.signal(signal.SIGTERM, lambda *_: open({str(flag)!r}, 'w').close()); "
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    )
    code = (
        "import subprocess, sys, time; "
        f"subprocess.Popen([sys.executable, '-c', {grandchild!r}]); print(1, flush=True); time.sleep(60)"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, start_new_session=True
    )
    child.stdout.readline()
    try:
        while not pid_file.exists() or not pid_file.read_text():
            time.sleep(0.01)
        grandchild_pid = int(pid_file.read_text())
        command = Command()
        command.stop_wait_s = 30
        started = time.monotonic()
        command._stop([child])
        assert time.monotonic() - started < 5  # the main process went at once
        assert child.returncode == -signal.SIGTERM
        assert not flag.exists()  # the grandchild was not signalled over its parent's head...
        deadline = time.monotonic() + 5  # ...and did not outlive the stop
        while _alive(grandchild_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(grandchild_pid)
    finally:
        child.kill()


def _alive(pid: int) -> bool:
    """Running; a zombie (killed, not yet reaped by whoever adopted it) is not."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def taken_port():
    """A port something already listens on, as a `serve` still running holds 7001 and 7900."""
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_a_taken_web_port_is_a_clear_error_before_anything_starts(taken_port, monkeypatch):
    from django.core.management import CommandError, call_command

    spawned = []
    monkeypatch.setattr(Command, "_spawn", lambda self, argv, env: spawned.append(argv))
    with pytest.raises(CommandError, match=rf"Port {taken_port} on 127.0.0.1 is not free.*--port"):
        call_command("serve", "--port", str(taken_port), "--simulator", "off")
    assert spawned == []


def test_a_taken_simulator_port_is_not_used_as_if_it_were_ours(taken_port, monkeypatch):
    """Another run's simulator answering there would otherwise be scripted and used."""
    import socket

    from django.core.management import CommandError, call_command

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        web_port = free.getsockname()[1]
    spawned = []
    monkeypatch.setattr(Command, "_spawn", lambda self, argv, env: spawned.append(argv))
    with pytest.raises(CommandError, match=rf"Port {taken_port} .*SIMULATOR_PORT"):
        call_command(
            "serve",
            "--port",
            str(web_port),
            "--simulator",
            "on",
            "--simulator-port",
            str(taken_port),
        )
    assert spawned == []


def test_serve_waits_for_gunicorn_to_drain_before_killing_it(settings):
    """gunicorn finishes its requests and streams within WEB_GRACEFUL_TIMEOUT after SIGTERM
    (d8site/drain.py); killing it sooner would cut them."""
    settings.WEB_GRACEFUL_TIMEOUT_S = 340.0
    assert Command().stop_wait() == 350.0
