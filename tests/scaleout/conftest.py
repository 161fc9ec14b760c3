"""The real service under gunicorn (several worker processes) on a throwaway database.

The PostgreSQL case also uses Redis (the scale-out set-up); SQLite runs the embedded one.
Both must be reachable: CI starts them, and a missing server fails the suite loudly.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from llmfallback.simulator.control import simulator_env
from tests.net import free_port

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 2


@dataclass
class Service:
    base_url: str
    agent_key: str
    master_pid: int
    data_dir: Path  # its LLM_DATA_DIR: the test's own (tests/conftest.py, llm_data_dir)
    database_path: Path | None  # its SQLite file; None on PostgreSQL

    def client(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.agent_key}"}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30.0)

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.master_pid}/task/{self.master_pid}/children")
        return [int(pid) for pid in children.read_text().split()]


@pytest.fixture
def service(database_env, simulator, tmp_path):
    """Migrate, make an agent key, start gunicorn with WORKERS processes; stop it afterwards."""
    base_url, _ = simulator
    port = free_port()
    env = os.environ | simulator_env(base_url) | database_env
    env |= {
        "LLM_PROVIDER_PRIORITY": "groq,gemini,deepseek",
        "PORT": str(port),
        "WEB_WORKERS": str(WORKERS),
        "WEB_THREADS": "8",
        "DJANGO_DEBUG": "",
    }
    key = re.search(r"d8_\S+", _setup_database(env)).group(0)
    log = (tmp_path / "gunicorn.log").open("w")
    argv = [sys.executable, "-m", "gunicorn", "-c", "d8site/gunicorn.conf.py", "d8site.wsgi"]
    proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    sqlite = Path(env["SQLITE_PATH"]) if not env.get("DATABASE_URL") else None
    svc = Service(f"http://127.0.0.1:{port}", key, proc.pid, Path(env["LLM_DATA_DIR"]), sqlite)
    try:
        _wait_until_serving(svc, proc, tmp_path / "gunicorn.log")
        yield svc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


SETUP = """
import os; os.environ.setdefault("DJANGO_SETTINGS_MODULE", "d8site.settings")
import django; django.setup()
from django.core.management import call_command
call_command("migrate", interactive=False, verbosity=0)
call_command("agent_key", "create", "scaleout")
"""


def _setup_database(env: dict) -> str:
    """Migrate and make the agent key in one process (one Django start-up); its output."""
    return _python(env, "-c", SETUP)


def _manage(env: dict, *args: str) -> str:
    return _python(env, "manage.py", *args)


def _python(env: dict, *argv: str) -> str:
    done = subprocess.run(
        [sys.executable, *argv], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"{' '.join(argv)[:60]} failed:\n{done.stderr}"
    return done.stdout


def _wait_until_serving(
    svc: Service, proc: subprocess.Popen, log: Path, timeout: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout
    with svc.client() as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"gunicorn exited with {proc.returncode}:\n{log.read_text()}")
            try:
                if (
                    client.get("/api/llm/health").status_code == 200
                    and len(svc.worker_pids()) >= WORKERS
                ):
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    pytest.fail(f"gunicorn did not serve within {timeout} s:\n{log.read_text()}")
