"""/livez and /readyz: no key, one word, past Django's middleware, and /readyz fails while the
process drains or its database does not answer."""

from __future__ import annotations

import pytest
from django.db import OperationalError
from django.test import RequestFactory

from d8site import drain, probes
from d8site.wsgi import application

pytestmark = pytest.mark.django_db


def call(path: str, method: str = "GET", **meta) -> tuple[str, dict, bytes]:
    environ = RequestFactory().generic(method, path, **meta).environ
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(application(environ, start_response))
    return seen["status"], seen["headers"], body


@pytest.fixture(autouse=True)
def nothing_logged_yet():
    probes._last_reason[0] = ""


@pytest.fixture
def draining():
    drain.drain_start()
    yield
    drain._draining.clear()


class BrokenConnection:
    in_atomic_block = False

    def close_if_unusable_or_obsolete(self):
        pass

    def cursor(self):
        raise OperationalError('connection to server at "db.internal" (10.0.0.9) refused')


def test_liveness_answers_without_a_key():
    status, headers, body = call("/livez")
    assert (status, body) == ("200 OK", b"live\n")
    assert headers["Cache-Control"] == "no-store"


def test_readiness_answers_ready_without_a_key():
    assert call("/readyz")[::2] == ("200 OK", b"ready\n")


def test_readiness_fails_at_once_while_draining(draining):
    assert call("/readyz")[::2] == ("503 Service Unavailable", b"not ready\n")
    assert call("/livez")[0] == "200 OK"  # draining is no reason to restart it


def test_readiness_fails_when_the_database_does_not_answer_and_says_why_only_in_the_log(
    monkeypatch, caplog
):
    monkeypatch.setattr(probes, "connection", BrokenConnection())
    status, _, body = call("/readyz")
    assert (status, body) == ("503 Service Unavailable", b"not ready\n")
    assert "db.internal" in caplog.text and b"db.internal" not in body


def test_a_failing_reason_is_logged_once_not_per_check(monkeypatch, caplog):
    monkeypatch.setattr(probes, "connection", BrokenConnection())
    for _ in range(3):
        call("/readyz")
    assert caplog.text.count("Not ready") == 1


def test_the_probes_pass_the_https_redirect_and_the_host_check(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["llm.example.com"]
    assert call("/readyz", HTTP_HOST="10.0.0.5:7001")[0] == "200 OK"
    assert call("/api/llm/health", HTTP_HOST="10.0.0.5:7001")[0].startswith("400")


def test_head_answers_without_a_body_and_other_methods_are_refused():
    assert call("/readyz", "HEAD")[::2] == ("200 OK", b"")
    status, headers, _ = call("/readyz", "POST")
    assert status == "405 Method Not Allowed" and headers["Allow"] == "GET, HEAD"


@pytest.mark.django_db(transaction=True)
def test_a_probe_gives_its_connection_back_as_a_request_does(monkeypatch):
    """With PostgreSQL's pool (CONN_MAX_AGE 0) a connection kept by an idle thread after its
    probe is one fewer for the chat requests (settings.py: DATABASE_POOL_SIZE). Closing is how
    Django gives it back; SQLite's in-memory test database ignores it, so the calls are counted."""
    from django.db import connections

    wrapper = connections["default"]
    monkeypatch.setitem(wrapper.settings_dict, "CONN_MAX_AGE", 0)
    wrapper.connect()  # its age is now 0: past it at once
    closed = []
    monkeypatch.setattr(wrapper, "close", lambda: closed.append(wrapper.connection is not None))
    assert call("/readyz")[0] == "200 OK"
    assert closed == [True, True]  # before the query (as a request starts) and after it
