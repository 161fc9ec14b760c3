"""Shared fixtures: the provider simulator over loopback, providers pointed at it, API clients."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from llmfallback.access import agent_keys
from llmfallback.providers.config import parse_provider_configs
from llmfallback.runtime import runtime_reset


@pytest.fixture(scope="session")
def simulator():
    """One loopback simulator for the whole run: (base_url, control). Reset before each use."""
    from llmfallback.simulator.control import running_simulator

    with running_simulator(port=0) as (base_url, control):
        yield base_url, control


@pytest.fixture
def sim(simulator):
    """The simulator's control client, with scripts and counters cleared."""
    _, control = simulator
    control.reset()
    yield control
    control.reset()


def provider_env(base_url: str, **overrides) -> dict:
    from llmfallback.simulator.control import simulator_env

    return simulator_env(base_url) | overrides


@pytest.fixture
def use_providers(settings, simulator):
    """Point the gateway at the simulator; call with env overrides to change providers or keys."""
    base_url, _ = simulator

    def configure(**env):
        settings.LLM_PROVIDERS = parse_provider_configs(provider_env(base_url, **env))
        runtime_reset()

    settings.LLM_DEADLINE_S = 10.0
    settings.LLM_READ_TIMEOUT_S = 5.0
    settings.LLM_ATTEMPT_TIMEOUT_S = 5.0
    settings.LLM_RETRY_BACKOFF_S = 0.01
    configure()
    yield configure
    runtime_reset()


@pytest.fixture
def agent(db):
    """An APIClient authenticated with a fresh agent key."""
    _, raw = agent_keys.agent_key_create(name="test-agent")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def operator(db):
    """An APIClient authenticated with an operator key."""
    _, raw = agent_keys.agent_key_create(name="test-operator", operator=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture(autouse=True, scope="session")
def fast_password_hashing():
    """MD5 for the passwords tests make, as Django's own test advice has it: PBKDF2 takes
    0.6 s a hash on a slow 2-core machine, paid by every staff user made and every login.
    Only this process: servers the tests start (serve, gunicorn) hash as in production."""
    from django.test import override_settings

    fast = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    fast.enable()  # sends setting_changed: Django's cached hasher list is dropped
    yield
    fast.disable()


@pytest.fixture(autouse=True)
def llm_data_dir(settings, tmp_path, monkeypatch):
    """Escalation JSON files go to a temporary folder, this test's own, in this process and in
    every process it starts; the open-escalation flag starts unset."""
    from llmfallback.escalation.flag import escalation_flag_forget

    settings.LLM_DATA_DIR = tmp_path / "llm_data"
    monkeypatch.setenv("LLM_DATA_DIR", str(settings.LLM_DATA_DIR))
    escalation_flag_forget()
    return settings.LLM_DATA_DIR


@pytest.fixture(autouse=True)
def health_read_per_attempt(settings):
    """In this process health is read before each attempt, as on SQLite: a test's own writes
    are seen at once, and no listening connection outlives the test database. The NOTIFY-kept
    copy (health_watch.py) runs in every server the tests start on PostgreSQL, and in
    tests/scaleout/test_health_watch.py, which turns it on here."""
    settings.LLM_HEALTH_NOTIFY = False


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test database, whose PostgreSQL connections are all closed at the end.

    Threads that served live_server requests leave theirs open (CONN_MAX_AGE): PostgreSQL then
    refused to drop the test database after waiting 5 s for them, and it stayed behind.
    """
    yield
    from django.db import connection

    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


# The scale-out servers. Both must be reachable: CI starts them; a missing one fails loudly.
POSTGRES_ADMIN_URL = os.environ.get(
    "SCALEOUT_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("SCALEOUT_REDIS_URL", "redis://127.0.0.1:6379/15")


DATABASE_KINDS = ("sqlite", "postgresql")


def _scaleout_databases() -> list[str]:
    """The kinds of database the multi-process tests set up for themselves (SCALEOUT_DATABASES).

    Both by default, so the README's test command runs every test. CI runs the suite twice, on
    SQLite and then on PostgreSQL + Redis; tests that bring their own database (`database_env`,
    the drills, the `database` marker) are the same in both passes, so each pass runs only those
    of its own kind: SCALEOUT_DATABASES=sqlite, then SCALEOUT_DATABASES=postgresql.
    """
    names = [n.strip() for n in os.environ.get("SCALEOUT_DATABASES", "").split(",") if n.strip()]
    unknown = set(names) - set(DATABASE_KINDS)
    if unknown:
        raise pytest.UsageError(f"SCALEOUT_DATABASES: unknown {sorted(unknown)}")
    return names or list(DATABASE_KINDS)


SCALEOUT_DATABASES = _scaleout_databases()


def database_params() -> list:
    """One parameter per kind of database, marked with it (deselected in the other CI pass)."""
    return [pytest.param(kind, marks=pytest.mark.database(kind)) for kind in DATABASE_KINDS]


# Plain Python and plain HTTP: no Django database, no Redis, whatever the suite runs on.
NO_DATABASE_DIRS = ("core", "providers", "simulator")
DATABASE_FIXTURES = {"db", "transactional_db", "live_server", "django_db_setup"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Mark no_database what cannot reach a database (CI's PostgreSQL pass leaves it out, `-m`),
    and deselect the tests about a kind of database SCALEOUT_DATABASES leaves to the other pass."""
    tests = Path(__file__).parent
    for item in items:
        if (
            item.path.is_relative_to(tests)
            and item.path.relative_to(tests).parts[0] in NO_DATABASE_DIRS
            and not DATABASE_FIXTURES & set(item.fixturenames)
            and not item.get_closest_marker("django_db")
        ):
            item.add_marker(pytest.mark.no_database)
    kept, other_pass = [], []
    for item in items:
        kinds = {m.args[0] for m in item.iter_markers("database")}
        (kept if not kinds or kinds & set(SCALEOUT_DATABASES) else other_pass).append(item)
    if other_pass:
        config.hook.pytest_deselected(items=other_pass)
        items[:] = kept


@pytest.fixture(params=database_params())
def database_env(request, tmp_path):
    """Environment selecting a fresh database of each kind; dropped afterwards."""
    if request.param == "sqlite":
        yield {"DATABASE_URL": "", "REDIS_URL": "", "SQLITE_PATH": str(tmp_path / "db.sqlite3")}
        return
    _require_redis()
    name = f"d8_scaleout_{secrets.token_hex(4)}"
    admin = _postgres_admin()
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
        yield {"DATABASE_URL": f"{base}/{name}", "REDIS_URL": REDIS_URL}
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _postgres_admin():
    import psycopg

    try:
        return psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as e:
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} ({e}). Start it "
            "(e.g. `service postgresql start`) or set SCALEOUT_POSTGRES_URL.",
            pytrace=False,
        )


def _require_redis() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as e:
        pytest.fail(
            f"Redis is not reachable at {REDIS_URL} ({e}). Start it "
            "(e.g. `service redis-server start`) or set SCALEOUT_REDIS_URL.",
            pytrace=False,
        )
