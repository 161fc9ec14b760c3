"""Commands run beside `manage.py serve` see the providers it simulates, and only while it runs."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from llmfallback.simulated_env import (
    FILE_NAME,
    simulated_env_read,
    simulated_env_remove,
    simulated_env_write,
)
from llmfallback.simulator.control import simulator_env
from tests.net import free_port

ROOT = Path(__file__).resolve().parents[2]
SERVED = simulator_env("http://127.0.0.1:7999") | {
    "LLM_SIMULATED_PROVIDERS": "groq,gemini,deepseek"
}


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_file_is_read_while_its_serve_runs_and_ignored_after(tmp_path):
    path = simulated_env_write(tmp_path, SERVED, pid=os.getpid())
    assert path.stat().st_mode & 0o077 == 0
    assert simulated_env_read(tmp_path) == SERVED
    simulated_env_write(tmp_path, SERVED, pid=dead_pid())  # serve was killed -9
    assert simulated_env_read(tmp_path) == {}


@pytest.mark.parametrize("text", ["", "{", "[]", '{"pid": "x", "env": {}}', '{"pid": 1}'])
def test_a_broken_file_means_no_simulation(tmp_path, text):
    (tmp_path / FILE_NAME).write_text(text)
    assert simulated_env_read(tmp_path) == {}


def test_serve_removes_only_its_own_file(tmp_path):
    simulated_env_write(tmp_path, SERVED, pid=os.getpid())
    simulated_env_remove(tmp_path, pid=os.getpid() + 1)  # an older serve stopping late
    assert (tmp_path / FILE_NAME).exists()
    simulated_env_remove(tmp_path, pid=os.getpid())
    assert not (tmp_path / FILE_NAME).exists()


def clean_env(tmp_path, **extra) -> dict:
    """This environment without providers or LLM_ settings, on the test's own files."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith(("_API_KEY", "_BASE_URL", "_MODEL")) and not k.startswith("LLM_")
    }
    env |= {
        "LLM_DATA_DIR": str(tmp_path / "data"),
        "SQLITE_PATH": str(tmp_path / "db.sqlite3"),
        "DATABASE_URL": "",
        "DJANGO_ALLOW_DEV_SECRET_KEY": "true",
    }
    return env | extra


def manage(tmp_path, *args, **extra) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean_env(tmp_path, **extra),
        capture_output=True,
        text=True,
    )


def test_llm_health_agent_key_and_llm_state_agree_with_a_running_serve(tmp_path):
    assert manage(tmp_path, "migrate", "--verbosity=0").returncode == 0
    alone = manage(tmp_path, "llm_health").stdout
    assert alone.count("not configured") == 3  # no serve running: nothing is configured
    assert "is not configured" in manage(tmp_path, "agent_key", "list").stderr

    simulated_env_write(tmp_path / "data", SERVED, pid=os.getpid())  # this test plays serve
    health = manage(tmp_path, "llm_health").stdout
    assert "not configured" not in health
    assert health.count("(simulated)") == 3
    keys = manage(tmp_path, "agent_key", "create", "bot")
    assert keys.returncode == 0 and "not configured" not in keys.stderr
    export = manage(tmp_path, "llm_state", "export")
    assert export.returncode == 0 and "not configured" not in export.stderr
    state = json.loads(Path(export.stdout.split("Wrote ", 1)[1].strip()).read_text())
    assert all(p["configured"] for p in state["providers"].values())
    secrets = [v for k, v in SERVED.items() if k.endswith("_API_KEY")]
    assert not any(secret in export.stdout + json.dumps(state) for secret in secrets)


SETTINGS = (
    "import django; django.setup(); from django.conf import settings; "
    "print(sum(not c.missing for c in settings.LLM_PROVIDERS))"
)


def configured_in(tmp_path, argv: list[str], **extra) -> int:
    done = subprocess.run(
        [sys.executable, *argv],
        cwd=ROOT,
        env=clean_env(tmp_path, DJANGO_SETTINGS_MODULE="d8site.settings", **extra),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip().splitlines()[-1])


def test_only_the_commands_beside_serve_or_the_setting_take_its_simulator(tmp_path):
    simulated_env_write(tmp_path / "data", SERVED, pid=os.getpid())  # this test plays serve
    as_llm_health = "import sys; sys.argv = ['manage.py', 'llm_health']; " + SETTINGS
    as_qcluster = "import sys; sys.argv = ['manage.py', 'qcluster']; " + SETTINGS
    assert configured_in(tmp_path, ["-c", as_llm_health]) == 3
    assert configured_in(tmp_path, ["-c", as_qcluster]) == 0
    assert configured_in(tmp_path, ["-c", SETTINGS]) == 0  # any other process
    assert configured_in(tmp_path, ["-c", SETTINGS], LLM_SIMULATOR_FROM_SERVE="true") == 3
    assert configured_in(tmp_path, ["-c", as_llm_health], LLM_SIMULATOR_FROM_SERVE="false") == 0


def test_a_production_gunicorn_in_the_same_checkout_never_calls_the_simulator(tmp_path):
    """A gunicorn started by hand beside a running serve, with no provider configured, serves
    no provider: it must not send agents' prompts to the development simulator."""
    assert manage(tmp_path, "migrate", "--verbosity=0").returncode == 0
    key = manage(tmp_path, "agent_key", "create", "bot").stdout.split()[-1]
    simulated_env_write(tmp_path / "data", SERVED, pid=os.getpid())  # serve is running
    port = free_port()
    log = tmp_path / "gunicorn.log"
    argv = [sys.executable, "-m", "gunicorn", "-c", "d8site/gunicorn.conf.py", "d8site.wsgi"]
    argv += ["--workers", "1", "--bind", f"127.0.0.1:{port}"]
    env = clean_env(tmp_path, GUNICORN_CONTROL_SOCKET="off")
    with log.open("w") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        health = health_when_up(f"http://127.0.0.1:{port}", key, proc, log)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    assert [p["configured"] for p in health["providers"].values()] == [False] * 3


def health_when_up(base_url: str, key: str, proc, log: Path) -> dict:
    deadline = time.monotonic() + 30
    headers = {"Authorization": f"Bearer {key}"}
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            return (
                httpx.get(f"{base_url}/api/llm/health", headers=headers).raise_for_status().json()
            )
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(log.read_text())
