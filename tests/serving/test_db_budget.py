"""The start-up warning when the service's hosts could pass PostgreSQL's max_connections."""

from __future__ import annotations

import logging
import os
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

from d8site import db_budget


def test_the_defaults_fit_postgresqls_default_on_two_hosts():
    assert db_budget.warning(2, 100, {"WEB_HOSTS": "2"}) is None  # 2 × (2 × 9 + 3) = 42


def test_too_many_hosts_or_pools_are_named_in_the_warning():
    text = db_budget.warning(4, 100, {"WEB_HOSTS": "3", "DATABASE_POOL_SIZE": "10"})
    assert text.startswith("PostgreSQL allows 100 connections")
    assert "3 host(s) × (4 workers × (DATABASE_POOL_SIZE 10 + 1 listener)" in text
    assert "may open 141" in text


def test_without_postgresql_nothing_is_checked():
    server = SimpleNamespace(log=logging.getLogger("test"), cfg=SimpleNamespace(workers=2))
    db_budget.check(server, environ={})  # no DATABASE_URL: no connection attempted


@pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="needs PostgreSQL")
def test_it_reads_the_servers_limit(caplog):
    # The server's own `postgres` database: DATABASE_URL's may exist only as pytest-django's
    # test_<name> copy (CI names a database of its run's own and never creates it).
    url = urlsplit(os.environ["DATABASE_URL"])._replace(path="/postgres").geturl()
    limit = db_budget.max_connections(url)
    server = SimpleNamespace(log=logging.getLogger("test"), cfg=SimpleNamespace(workers=limit))
    with caplog.at_level(logging.WARNING):
        db_budget.check(server, environ={"DATABASE_URL": url})
    assert f"PostgreSQL allows {limit} connections" in caplog.text
