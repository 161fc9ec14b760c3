"""Every setting documented for .env reaches every process the README starts: gunicorn's own
server settings (read before any Django code runs), `manage.py serve` and `qcluster`'s.

The file is chosen with D8_ENV_FILE so the tests never touch a developer's own .env; what the
process's environment already says still wins over the file."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.net import free_port
from tests.ops.gunicorn_run import ROOT, booted, eventually, stop

pytestmark = pytest.mark.database("sqlite")

GUNICORN = [sys.executable, "-m", "gunicorn", "-c", "d8site/gunicorn.conf.py"]
SERVER_NAMES = ("PORT", "HOST", "WEB_", "GUNICORN", "Q_WORKERS", "SIMULATOR_PORT", "D8_ENV_FILE")


@pytest.fixture
def clean(env):
    """tests/ops' environment without any serving setting a .env could otherwise provide."""
    return {k: v for k, v in env.items() if not k.startswith(SERVER_NAMES)}


def env_file(tmp_path, **values) -> dict:
    path = tmp_path / "d8.env"
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return {"D8_ENV_FILE": str(path)}


def gunicorn_config(env: dict) -> dict:
    out = subprocess.run(
        [*GUNICORN, "--print-config", "tests.ops.hello_wsgi:app"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    return dict(
        (name.strip(), value.strip())
        for name, _, value in (line.partition("=") for line in out.splitlines())
    )


def test_gunicorn_takes_its_server_settings_from_the_env_file(clean, tmp_path):
    port = free_port()
    chosen = env_file(
        tmp_path,
        PORT=port,
        HOST="127.0.0.1",
        WEB_WORKERS=3,
        WEB_THREADS=7,
        WEB_WORKER_CLASS="gthread",
        WEB_GRACEFUL_TIMEOUT=91,
        GUNICORN_ACCESS_LOG="-",
    )
    config = gunicorn_config(clean | chosen)
    assert config["bind"] == f"['127.0.0.1:{port}']"
    assert (config["workers"], config["threads"], config["worker_class"]) == ("3", "7", "gthread")
    assert (config["graceful_timeout"], config["accesslog"]) == ("91", "-")


def test_the_process_environment_wins_over_the_env_file(clean, tmp_path):
    config = gunicorn_config(clean | env_file(tmp_path, WEB_THREADS=7) | {"WEB_THREADS": "5"})
    assert config["threads"] == "5"


def test_gunicorn_binds_the_port_the_env_file_names(clean, tmp_path):
    port, log = free_port(), tmp_path / "gunicorn.log"
    env = clean | env_file(tmp_path, PORT=port, WEB_WORKERS=1)
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*GUNICORN, "tests.ops.hello_wsgi:app"], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    try:
        booted(proc, log)
        eventually(lambda: f"Listening at: http://127.0.0.1:{port}" in log.read_text(), proc, log)
    finally:
        stop(proc)


SERVE_DEFAULTS = """
import django, os; os.environ.setdefault("DJANGO_SETTINGS_MODULE", "d8site.settings"); django.setup()
from django.conf import settings
from llmfallback.management.commands.serve import Command
o = vars(Command().create_parser("manage.py", "serve").parse_args([]))
print(o["host"], o["port"], o["workers"], o["threads"], o["simulator_port"],
      settings.Q_CLUSTER["workers"], settings.WEB_GRACEFUL_TIMEOUT_S)
"""


def test_serve_and_qcluster_take_their_settings_from_the_env_file(clean, tmp_path):
    chosen = env_file(
        tmp_path,
        HOST="127.0.0.2",
        PORT=7101,
        WEB_WORKERS=3,
        WEB_THREADS=9,
        SIMULATOR_PORT=7911,
        Q_WORKERS=4,
        WEB_GRACEFUL_TIMEOUT=91,
    )
    out = subprocess.run(
        [sys.executable, "-c", SERVE_DEFAULTS],
        cwd=ROOT, env=clean | chosen, capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    assert out.split() == ["127.0.0.2", "7101", "3", "9", "7911", "4", "91.0"]
