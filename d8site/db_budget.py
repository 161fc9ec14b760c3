"""PostgreSQL connections: what every host of the service may open at once, checked against the
server's max_connections when gunicorn starts (d8site/gunicorn.conf.py's when_ready).

Per host: each web worker's pool (DATABASE_POOL_SIZE) and its NOTIFY listener, and the task
cluster's workers (Q_WORKERS) with its own monitor. WEB_HOSTS says how many hosts share the
database (issue 25: two hosts on the defaults reached 89 of 100 with 20 threads per worker).
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)

POOL_DEFAULT = 8  # DATABASE_POOL_SIZE (d8site/settings.py)
CLUSTER_DEFAULT = 2  # Q_WORKERS


def budget(*, workers: int, hosts: int, pool: int, cluster: int) -> int:
    """Connections the service may hold at once on all its hosts."""
    return hosts * (workers * (pool + 1) + cluster + 1)


def _int(environ, name: str, default: int) -> int:
    try:
        return int(environ.get(name) or default)
    except ValueError:
        return default  # settings.py names the bad value when Django starts


def warning(workers: int, max_connections: int, environ=os.environ) -> str | None:
    """The warning to log when the budget would pass max_connections, else None."""
    hosts = _int(environ, "WEB_HOSTS", 1)
    pool = _int(environ, "DATABASE_POOL_SIZE", POOL_DEFAULT)
    cluster = _int(environ, "Q_WORKERS", CLUSTER_DEFAULT)
    need = budget(workers=workers, hosts=hosts, pool=pool, cluster=cluster)
    if need <= max_connections:
        return None
    return (
        f"PostgreSQL allows {max_connections} connections, and {hosts} host(s) × ({workers} "
        f"workers × (DATABASE_POOL_SIZE {pool} + 1 listener) + Q_WORKERS {cluster} + 1) may open "
        f"{need}: lower DATABASE_POOL_SIZE, WEB_WORKERS or Q_WORKERS, or raise max_connections"
    )


def max_connections(database_url: str) -> int:
    import psycopg

    with psycopg.connect(database_url, connect_timeout=5) as conn:
        return int(conn.execute("SHOW max_connections").fetchone()[0])


def check(server, environ=os.environ) -> None:
    """Log a warning at start when the service's hosts could exhaust PostgreSQL's connections."""
    url = environ.get("DATABASE_URL")
    if not url:
        return
    try:
        limit = max_connections(url)
    except Exception as e:  # noqa: BLE001 - the start goes on; readiness reports the database
        server.log.warning("Could not read PostgreSQL's max_connections: %s", type(e).__name__)
        return
    if text := warning(server.cfg.workers, limit, environ):
        server.log.warning(text)
