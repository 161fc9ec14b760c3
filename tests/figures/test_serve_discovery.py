"""Commands run beside `manage.py serve` see the providers it simulates, and only while it runs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from llmfallback.simulated_env import (
    FILE_NAME,
    simulated_env_read,
    simulated_env_remove,
    simulated_env_write,
)
from llmfallback.simulator.control import simulator_env

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


def manage(tmp_path, *args) -> subprocess.CompletedProcess:
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
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
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
