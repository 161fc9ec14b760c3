"""The database, the cache and django-q2's broker, shaped for settings.py (which reads their
variables): SQLite, local memory and the ORM broker in the embedded set-up; PostgreSQL and Redis
when DATABASE_URL and REDIS_URL are set."""

from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import dj_database_url

from llmfallback.ops.private_files import private_file


def postgres_database(url: str, *, pool_size: int) -> dict:
    """The database at `url`, with a pool of `pool_size` connections per process."""
    database = dj_database_url.parse(url)
    # A pool per worker process instead of a connection per thread: with hundreds of threads
    # (WEB_THREADS) each holding its own, two workers went past PostgreSQL's max_connections.
    # A request gives its connection back before every provider call (db_pool.db_release),
    # so DATABASE_POOL_SIZE connections serve every thread. README: "Capacity".
    database["OPTIONS"] = database.get("OPTIONS", {}) | {
        "pool": {"min_size": 1, "max_size": pool_size, "timeout": 10}
    }
    return database


def sqlite_database(path: Path) -> dict:
    """SQLite at `path`, tuned so several worker processes can write at once.

    WAL lets readers run beside the writer, IMMEDIATE takes the write lock at BEGIN (no
    deadlock-prone lock upgrades), and the busy timeout waits instead of failing with "database
    is locked". https://docs.djangoproject.com/en/5.2/ref/databases/#sqlite-notes
    """
    # Created here, 0600 in a folder made 0700, before SQLite creates it (0644) with its -wal
    # and -shm files, which SQLite gives the database's own mode: the database holds prompts.
    private_file(path)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": path,
        # Keep each thread's connection: reopening it per request re-runs the PRAGMAs.
        "CONN_MAX_AGE": None,
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }


def redis_cache(url: str, *, timeout_s: float) -> dict:
    """Django's Redis cache at `url`, with short socket timeouts (settings.REDIS_TIMEOUT_S)."""
    timeouts = {"socket_timeout": timeout_s, "socket_connect_timeout": timeout_s}
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": url,
        "OPTIONS": timeouts,
    }


def cache(redis_url: str, *, timeout_s: float) -> dict:
    """The default cache: Redis when `redis_url` is set, else each process's own memory."""
    if redis_url:
        return redis_cache(redis_url, timeout_s=timeout_s)
    return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}


# django-q2's Redis broker waits up to 1 s for a task (BLPOP); a read may take longer than that,
# but a Redis that accepts and never answers must not hold a request's enqueue (a remedy, an
# alert) or the cluster for ever, as it did with redis-py's default of no timeout.
Q_REDIS_TIMEOUT_S = 10.0


def q_cluster(
    redis_url: str, *, workers: int, sync: bool, redis_timeout_s: float = Q_REDIS_TIMEOUT_S
) -> dict:
    """django-q2's cluster: the ORM broker in the embedded set-up, Redis when `redis_url` is set.

    https://django-q2.readthedocs.io/en/master/configure.html
    """
    cluster = {
        "name": "d8",
        "workers": workers,
        "timeout": 120,
        "retry": 180,
        "catch_up": False,
        "sync": sync,
        "poll": 1,
    }
    if redis_url:
        cluster["redis"] = _with_timeouts(redis_url, redis_timeout_s)
    else:
        cluster["orm"] = "default"
    return cluster


def _with_timeouts(url: str, timeout_s: float) -> str:
    """`url` with socket timeouts as query parameters (redis-py reads them), unless it sets its
    own. Only for django-q2: the cache takes its shorter ones as options (`redis_cache`)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    for name in ("socket_timeout", "socket_connect_timeout"):
        query.setdefault(name, str(timeout_s))
    return urlunsplit(parts._replace(query=urlencode(query)))
