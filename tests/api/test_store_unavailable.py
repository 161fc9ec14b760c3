"""When the database gives no connection in time (its pool empty, PostgreSQL down or restarting,
SQLite locked), every face answers 503 with Retry-After in its own envelope, never a 500: the
same call may succeed in a few seconds, and agents' SDKs retry a 503 and not a 500."""

import json
import logging

import psycopg_pool
import pytest
from django.db import InterfaceError, OperationalError
from django.test import Client, RequestFactory

from d8site import serving
from d8site.api import errors
from llmfallback.access import agent_keys

pytestmark = pytest.mark.django_db

HELLO = [{"role": "user", "content": "hello"}]
SECRET = "postgresql://d8:hunter2@db.internal/d8"


class _Unreachable:
    """AgentKey with a database that answers nothing: as psycopg_pool fails a request whose
    pool stayed empty for its timeout, wrapped by Django as it wraps every driver error."""

    class objects:  # noqa: N801 - stands for a model's manager
        @staticmethod
        def filter(**_):
            try:
                raise psycopg_pool.PoolTimeout(f"couldn't get a connection to {SECRET}")
            except psycopg_pool.PoolTimeout as e:
                raise OperationalError(str(e)) from e


@pytest.fixture
def key(monkeypatch) -> str:
    raw = agent_keys.agent_key_create(name="pool")[1]
    agent_keys.agent_cache_clear()  # the next call must ask the database
    monkeypatch.setattr(agent_keys, "AgentKey", _Unreachable)
    return raw


def call(path, body, key, **headers):
    client = Client(raise_request_exception=False)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}", "HTTP_X_API_KEY": key, **headers}
    return client.post(path, json.dumps(body), content_type="application/json", **headers)


def unavailable(r) -> dict:
    assert r.status_code == 503, r.content[:300]
    assert r["Retry-After"] == str(serving.RETRY_AFTER_S)
    assert r["Content-Type"].startswith("application/json")
    text = r.content.decode()
    assert "hunter2" not in text and "Traceback" not in text and "PoolTimeout" not in text
    return json.loads(text)


def server_error_on(path, exc):
    """Django's handler500 for a GET of `path`, called as Django calls it: while `exc` is handled."""
    try:
        raise exc
    except type(exc):
        return errors.server_error(RequestFactory().get(path))


def test_openai_chat_is_a_503_in_openais_envelope(key):
    body = unavailable(call("/v1/chat/completions", {"model": "auto", "messages": HELLO}, key))
    error = body["error"]
    assert error["type"] == "server_error" and error["code"] == "store_unavailable"
    assert str(serving.RETRY_AFTER_S) in error["message"]


def test_openai_responses_is_a_503_in_openais_envelope(key):
    body = unavailable(call("/v1/responses", {"model": "auto", "input": "hello"}, key))
    assert body["error"]["code"] == "store_unavailable"


def test_anthropic_messages_is_a_503_in_anthropics_envelope(key):
    ask = {"model": "auto", "max_tokens": 16, "messages": HELLO}
    body = unavailable(call("/v1/messages", ask, key, HTTP_ANTHROPIC_VERSION="2023-06-01"))
    assert body["type"] == "error" and body["error"]["type"] == "overloaded_error"
    assert body["error"]["message"]


def test_our_api_is_a_503_with_a_detail(key):
    body = unavailable(call("/api/llm/chat", {"messages": HELLO}, key))
    assert body == {"detail": errors.store_unavailable_detail()}


def test_it_is_logged_as_a_warning_without_the_connection_string(key, caplog):
    with caplog.at_level(logging.WARNING):
        unavailable(call("/api/llm/chat", {"messages": HELLO}, key))
        unavailable(call("/v1/chat/completions", {"model": "auto", "messages": HELLO}, key))
    ours = [r for r in caplog.records if r.name == "d8site.api"]
    assert len(ours) == 2 and all(r.levelno == logging.WARNING for r in ours)
    assert all("OperationalError" in r.getMessage() for r in ours)
    assert "hunter2" not in caplog.text


@pytest.mark.parametrize("exc", [OperationalError("gone"), InterfaceError("connection closed")])
def test_the_500_view_answers_503_for_a_database_that_cannot_be_reached(exc):
    unavailable(server_error_on("/api/llm/health", exc))


def test_a_page_for_people_is_a_503_page_with_retry_after():
    r = server_error_on("/dashboard/llm", OperationalError("gone"))
    assert r.status_code == 503 and r["Retry-After"] == str(serving.RETRY_AFTER_S)
    assert r["Content-Type"].startswith("text/html")


def test_any_other_crash_stays_a_500():
    r = server_error_on("/api/llm/health", RuntimeError("a bug"))
    assert r.status_code == 500 and not r.has_header("Retry-After")
