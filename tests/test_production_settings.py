"""Production safety: the development SECRET_KEY never runs with DEBUG off (but `serve` makes its
own key), and `manage.py check --deploy` is clean for the documented production settings."""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.core.exceptions import ImproperlyConfigured

from d8site.settings import DEV_SECRET_KEY, secret_key_file
from llmfallback.checks import secret_key_file_private
from tests.net import free_port

ROOT = Path(__file__).resolve().parents[1]
REFUSAL = "Refusing to start with DJANGO_DEBUG off on the built-in development SECRET_KEY"
# check --deploy warnings that stay with the documented settings, and why (README, "Production").
EXPLAINED = {
    "security.W005": "HSTS for subdomains is the domain owner's choice, not the gateway's",
    "security.W021": "HSTS preloading binds the whole domain for months: the owner's choice",
}
# Every test here runs the embedded set-up (its own SQLite file, `env` below) or no database at
# all, whatever the suite runs on: CI runs them once, in the SQLite pass.
pytestmark = pytest.mark.database("sqlite")


@pytest.fixture
def env(tmp_path) -> dict:
    """A production-like environment: DEBUG off, no key, no test allowance, throwaway files.

    Empty values rather than absent ones, so that a developer's .env cannot fill them in.
    """
    return os.environ | {
        "DJANGO_SETTINGS_MODULE": "d8site.settings",
        "DJANGO_DEBUG": "",
        "DJANGO_SECRET_KEY": "",
        "DJANGO_ALLOW_DEV_SECRET_KEY": "",
        "DJANGO_SECRET_KEY_FILE": str(tmp_path / "data" / "secret_key"),
        "SQLITE_PATH": str(tmp_path / "db.sqlite3"),
        "LLM_DATA_DIR": str(tmp_path / "llm"),
        "DATABASE_URL": "",
        "REDIS_URL": "",
    }


def run(env: dict, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def settings_key(env: dict) -> str:
    code = "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)"
    done = run(env, "-c", code)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


# --- The secret key ---------------------------------------------------------------------------


def starters(port: int) -> dict[str, list[str]]:
    return {
        "gunicorn": ["-m", "gunicorn", "-c", "d8site/gunicorn.conf.py", "d8site.wsgi",
                     "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        "qcluster": ["manage.py", "qcluster"],
        "runserver": ["manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        "migrate": ["manage.py", "migrate", "--noinput"],
    }  # fmt: skip


@pytest.mark.multiprocess
@pytest.mark.parametrize("process", ["gunicorn", "qcluster", "runserver", "migrate"])
def test_the_real_processes_refuse_the_development_key_with_debug_off(env, process, tmp_path):
    argv = starters(free_port())[process]
    child = subprocess.Popen(
        [sys.executable, *argv], cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        output, _ = child.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, 9)
        pytest.fail(f"{process} started on the development key")
    assert child.returncode != 0
    assert REFUSAL in output and "DJANGO_SECRET_KEY" in output
    assert not (tmp_path / "data" / "secret_key").exists()  # only `serve` makes a key


def test_the_development_key_given_explicitly_is_refused_too(env):
    done = run(env | {"DJANGO_SECRET_KEY": DEV_SECRET_KEY}, "manage.py", "check")
    assert done.returncode != 0 and REFUSAL in done.stderr


def test_debug_on_allows_the_development_key(env):
    assert settings_key(env | {"DJANGO_DEBUG": "true"}) == DEV_SECRET_KEY


def test_the_test_suite_runs_on_the_development_key_because_pyproject_says_so(env):
    assert settings_key(env | {"DJANGO_ALLOW_DEV_SECRET_KEY": "true"}) == DEV_SECRET_KEY


def test_a_key_from_the_environment_wins_over_the_key_file(env, tmp_path):
    key = secrets.token_urlsafe(50)
    secret_key_file(tmp_path / "data" / "secret_key", create=True)
    assert settings_key(env | {"DJANGO_SECRET_KEY": key}) == key


def test_serve_makes_a_private_key_on_its_first_run_and_every_process_reuses_it(env, tmp_path):
    path = tmp_path / "data" / "secret_key"
    assert run(env, "manage.py", "serve", "--help").returncode == 0  # loads the settings only
    key = path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) >= 50 and key != DEV_SECRET_KEY
    assert run(env, "manage.py", "serve", "--help").returncode == 0
    assert path.read_text() == key  # kept, never replaced
    assert settings_key(env) == key  # what gunicorn and qcluster read


def test_a_relative_key_file_is_found_from_any_directory(env, tmp_path):
    """serve starts its children in the project directory; a shell may be anywhere else."""
    key = secret_key_file(tmp_path / "data" / "secret_key", create=True)
    relative = {"DJANGO_SECRET_KEY_FILE": os.path.relpath(tmp_path / "data" / "secret_key", ROOT)}
    code = "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)"
    elsewhere = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env | relative | {"PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert elsewhere.stdout.strip() == key == settings_key(env | relative)


def test_the_key_file_is_made_once_and_never_replaced(tmp_path):
    path = tmp_path / "data" / "secret_key"
    assert secret_key_file(path, create=False) == ""
    assert not path.exists()
    first = secret_key_file(path, create=True)
    assert secret_key_file(path, create=True) == first
    path.write_text("made-by-another-serve-a-moment-earlier")
    assert secret_key_file(path, create=True) == "made-by-another-serve-a-moment-earlier"
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]  # no temporary file left


def test_an_empty_key_file_is_refused(tmp_path):
    path = tmp_path / "secret_key"
    path.write_text("\n")
    with pytest.raises(ImproperlyConfigured, match="empty"):
        secret_key_file(path, create=True)


@pytest.mark.multiprocess
def test_serve_on_a_fresh_machine_runs_a_task_the_web_process_queued(env, tmp_path):
    """django-q2 signs task packages with SECRET_KEY: the web worker that queues a remedy and the
    cluster that carries it out must read the same key, the one serve made on its first run."""
    port = free_port()
    argv = ["manage.py", "serve", "--simulator", "on", "--port", str(port),
            "--simulator-port", str(free_port()), "--workers", "1", "--threads", "4"]  # fmt: skip
    log = (tmp_path / "serve.log").open("w+")
    serve = subprocess.Popen(
        [sys.executable, *argv], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        key = operator_key(tmp_path / "serve.log", serve)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10.0,
                          headers={"Authorization": f"Bearer {key}"}) as client:  # fmt: skip
            code = approve_a_remedy(client)
            assert proposal_status_becomes(client, code, "implemented")
    finally:
        os.killpg(serve.pid, 15)
        serve.wait(timeout=30)
        log.close()
    assert stat.S_IMODE((tmp_path / "data" / "secret_key").stat().st_mode) == 0o600


def operator_key(log: Path, serve: subprocess.Popen) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and serve.poll() is None:
        text = log.read_text()
        found = re.search(r"operator agent key 'demo': (d8_\S+)", text)
        if found and "Q Cluster" in text and "Booting worker" in text:
            return found.group(1)
        time.sleep(0.2)  # waiting on other processes; there is no clock to inject here
    pytest.fail(f"serve did not start:\n{log.read_text()}")


def approve_a_remedy(client: httpx.Client) -> str:
    proposal = {
        "title": "Raise the failure threshold",
        "remedy": "threshold_raise",
        "remedy_args": {"name": "congress_threshold_failures", "value": 99},
        "open_voting": True,
    }
    deadline = time.monotonic() + 30
    while True:  # gunicorn's worker may still be importing the app
        try:
            r = client.post("/api/congress/proposals", json=proposal)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    r = client.post(f"/api/congress/proposals/{code}/transition", json={"to": "approved"})
    assert r.status_code == 200 and r.json()["status"] == "approved", r.text
    return code


def proposal_status_becomes(client: httpx.Client, code: str, status: str) -> bool:
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        if client.get(f"/api/congress/proposals/{code}").json()["status"] == status:
            return True
        time.sleep(0.3)  # the cluster polls its queue once a second
    return False


# --- check --deploy ---------------------------------------------------------------------------


def documented_production_env() -> dict:
    """The production block of .env.example, the documented production settings."""
    text = (ROOT / ".env.example").read_text()
    block = text.split("# --- Production behind a TLS-terminating proxy", 1)[1]
    found = dict(re.findall(r"^# ([A-Z][A-Z0-9_]+)=(\S*)$", block, flags=re.M))
    assert {
        "DJANGO_SECRET_KEY",
        "DJANGO_BEHIND_TLS_PROXY",
        "DJANGO_SECURE_HSTS_SECONDS",
    } <= found.keys()
    return found | {"DJANGO_SECRET_KEY": secrets.token_urlsafe(50)}


def deploy_check(env: dict) -> tuple[int, set[str]]:
    providers = {"LLM_PROVIDER_PRIORITY": "groq", "GROQ_API_KEY": "gsk_" + "x" * 40}
    done = run(env | providers, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    return done.returncode, set(re.findall(r"\(([a-z_]+\.[EWC]\d+)\)", done.stdout + done.stderr))


def test_check_deploy_warns_only_of_the_explained_hsts_choices(env):
    returncode, issues = deploy_check(env | documented_production_env())
    assert issues == EXPLAINED.keys()


def test_check_deploy_is_clean_once_the_domain_owner_makes_the_hsts_choices(env):
    owner = {"DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS": "true", "DJANGO_SECURE_HSTS_PRELOAD": "true"}
    returncode, issues = deploy_check(env | documented_production_env() | owner)
    assert (returncode, issues) == (0, set())


def test_check_deploy_names_what_the_plain_http_defaults_leave_off(env):
    _, issues = deploy_check(env | {"DJANGO_SECRET_KEY": secrets.token_urlsafe(50)})
    assert {"security.W004", "security.W008", "security.W012", "security.W016"} <= issues


def https_settings(env: dict) -> list:
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([getattr(s, 'SECURE_PROXY_SSL_HEADER', None), s.SECURE_SSL_REDIRECT, "
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS]))"
    )
    done = run(env | {"DJANGO_SECRET_KEY": secrets.token_urlsafe(50)}, "-c", code)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_plain_http_is_the_default_for_the_embedded_set_up(env):
    assert https_settings(env) == [None, False, False, False, 0]


def test_behind_a_tls_proxy_redirects_to_https_and_keeps_cookies_secure(env):
    proxy = {"DJANGO_BEHIND_TLS_PROXY": "true"}
    assert https_settings(env | proxy) == [["HTTP_X_FORWARDED_PROTO", "https"], True, True, True, 0]
    # The proxy redirects itself, so agents on the inside may call over plain HTTP:
    inside = proxy | {"DJANGO_SECURE_SSL_REDIRECT": "false", "DJANGO_SECURE_HSTS_SECONDS": "60"}
    assert https_settings(env | inside)[1:] == [False, True, True, 60]


def test_a_key_file_other_users_can_read_is_reported(settings, tmp_path):
    settings.SECRET_KEY_FILE = tmp_path / "secret_key"
    assert secret_key_file_private(None) == []  # no file: the key comes from elsewhere
    secret_key_file(settings.SECRET_KEY_FILE, create=True)
    assert secret_key_file_private(None) == []
    settings.SECRET_KEY_FILE.chmod(0o644)
    assert [w.id for w in secret_key_file_private(None)] == ["llmfallback.W003"]


def test_the_refusal_is_one_message_without_a_traceback(env):
    done = run(env, "manage.py", "check")
    assert done.returncode == 1 and REFUSAL in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
