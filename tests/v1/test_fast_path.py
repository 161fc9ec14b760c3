"""The service's WSGI application (d8site.wsgi) answers POST /v1/chat/completions past six
middleware (d8site/fast_path.py): every answer must be the one Django's full handler gives,
byte for byte but for the ids and timestamps that differ between any two calls."""

from __future__ import annotations

import json

import pytest
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import RequestFactory
from django.utils.deprecation import MiddlewareMixin

from d8site import fast_path
from llmfallback.access import agent_keys

from .conftest import ask

pytestmark = pytest.mark.django_db

PATH = "/v1/chat/completions"


def wsgi_call(app, *, body=b"", method="POST", path=PATH, content_type="application/json", **meta):
    """(status, headers, body) of one WSGI call, the response closed as a server closes it.

    As Django's test client does, the database connection is not closed around the call: it
    holds the test's transaction."""
    environ = RequestFactory().generic(method, path, body, content_type, **meta).environ
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, headers

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        response = app(environ, start_response)
        try:
            content = b"".join(response)
        finally:
            response.close()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return seen["status"], sorted(seen["headers"]), content


VARYING = {"id", "created", "latency_ms"}  # differ between any two calls


def _same_but_ids(content: bytes) -> object:
    """The body without what differs between any two calls: ids, times and timings."""
    if content.startswith(b"data:"):
        return [_same_but_ids(line[5:].strip()) for line in content.split(b"\n\n") if line]
    try:
        return _without_varying(json.loads(content))
    except ValueError:
        return content


def _without_varying(value):
    if isinstance(value, dict):
        return {k: _without_varying(v) for k, v in value.items() if k not in VARYING}
    if isinstance(value, list):
        return [_without_varying(v) for v in value]
    return value


def both(**call):
    """The answer of d8site's application and of Django's own handler to the same request."""
    fast = wsgi_call(fast_path.ChatFirst(WSGIHandler()), **call)
    full = wsgi_call(WSGIHandler(), **call)
    return fast, full


@pytest.fixture
def key(use_providers, sim):
    return "Bearer " + agent_keys.agent_key_create(name="fast-path")[1]


def _json(body: dict) -> bytes:
    return json.dumps(body).encode()


CASES = {
    "answer": ({"body": _json(ask())}, "200 OK"),
    "stream": ({"body": _json(ask(stream=True))}, "200 OK"),
    "bad JSON": ({"body": b'{"model": "auto", '}, "400 Bad Request"),
    "not an object": ({"body": b"[1, 2]"}, "400 Bad Request"),
    "invalid body": ({"body": _json(ask(n=3))}, "400 Bad Request"),
    "form": ({"body": b"a=b", "content_type": "application/x-www-form-urlencoded"}, "415"),
    "html only": ({"body": _json(ask()), "HTTP_ACCEPT": "text/html"}, "406 Not Acceptable"),
    "unknown model": ({"body": _json(ask(model="nope/x"))}, "404 Not Found"),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_the_answer_is_djangos_own(case, key):
    call, status = CASES[case]
    fast, full = both(HTTP_AUTHORIZATION=key, **call)
    assert fast[0].startswith(status)  # the case is what it says, not two equal failures
    # The same status and headers; Content-Length may differ by the digits of a timing in the
    # body (x_d8's latency_ms), so it is held to each body's own length instead.
    assert fast[0] == full[0]
    assert _headers_but_length(fast) == _headers_but_length(full)
    assert _same_but_ids(fast[2]) == _same_but_ids(full[2])


def _headers_but_length(answer) -> list:
    _, headers, body = answer
    length = [v for name, v in headers if name.lower() == "content-length"]
    assert length in ([], [str(len(body))])
    return [(name, v) for name, v in headers if name.lower() != "content-length"]


def test_no_key_is_the_same_401(key):
    fast, full = both(body=_json(ask()))
    assert fast[0].startswith("401")
    assert fast == full


def test_security_headers_are_kept(key):
    (status, headers, _), _ = both(body=_json(ask()), HTTP_AUTHORIZATION=key)
    names = {name.lower(): value for name, value in headers}
    assert status == "200 OK"
    assert names["x-frame-options"] == "DENY"
    assert names["x-content-type-options"] == "nosniff"
    assert int(names["content-length"]) > 0


def test_a_host_not_allowed_is_refused_alike(key, settings):
    settings.ALLOWED_HOSTS = ["gateway.example"]
    fast, full = both(body=_json(ask()), HTTP_AUTHORIZATION=key, HTTP_HOST="evil.example")
    assert fast[0].startswith("400")
    assert fast == full
    ok, _ = both(body=_json(ask()), HTTP_AUTHORIZATION=key, HTTP_HOST="gateway.example")
    assert ok[0] == "200 OK"


def test_https_redirect_and_refused_user_agents_hold(key, settings):
    import re

    settings.SECURE_SSL_REDIRECT = True
    fast, full = both(body=_json(ask()), HTTP_AUTHORIZATION=key)
    assert fast[0].startswith("301")
    assert fast == full

    settings.SECURE_SSL_REDIRECT = False
    settings.DISALLOWED_USER_AGENTS = [re.compile("BadBot")]
    fast, full = both(body=_json(ask()), HTTP_AUTHORIZATION=key, HTTP_USER_AGENT="BadBot/1.0")
    assert fast[0].startswith("403")
    assert fast == full


def test_an_error_in_the_view_is_answered_as_django_answers_it(key, monkeypatch):
    from llmfallback.http import openai

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(openai, "chat_answer", broken)
    fast, full = both(body=_json(ask()), HTTP_AUTHORIZATION=key)
    assert fast[0].startswith("500")
    assert fast == full


def test_signals_that_keep_database_connections_still_fire(key):
    seen = []

    def started(sender, **kwargs):
        seen.append("started")

    def finished(sender, **kwargs):
        seen.append("finished")

    request_started.connect(started)
    request_finished.connect(finished)
    try:
        app = fast_path.ChatFirst(WSGIHandler())
        seen.clear()
        status, _, _ = wsgi_call(app, body=_json(ask(stream=True)), HTTP_AUTHORIZATION=key)
    finally:
        request_started.disconnect(started)
        request_finished.disconnect(finished)
    assert status == "200 OK"
    assert seen == ["started", "finished"]


class Stamp(MiddlewareMixin):
    """A middleware someone adds to settings later."""

    def process_view(self, request, view, args, kwargs):
        request.stamped_view = view.__name__

    def process_response(self, request, response):
        response["X-Stamp"] = getattr(request, "stamped_view", "no view hook")
        return response


def test_a_middleware_added_later_runs_on_the_fast_path_too(key, settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, f"{__name__}.Stamp"]
    status, headers, _ = wsgi_call(
        fast_path.ChatFirst(WSGIHandler()), body=_json(ask()), HTTP_AUTHORIZATION=key
    )
    assert status == "200 OK"
    assert ("X-Stamp", "chat_completions") in headers


def test_the_service_application_passes_the_six_by_for_chat_only(key, monkeypatch):
    from d8site.wsgi import application

    opened = []
    process_request = SessionMiddleware.process_request

    def counting(self, request):
        opened.append(request.path)
        return process_request(self, request)

    monkeypatch.setattr(SessionMiddleware, "process_request", counting)
    status, _, _ = wsgi_call(application, body=_json(ask()), HTTP_AUTHORIZATION=key)
    assert status == "200 OK"
    assert opened == []
    # Any other path or method still goes through Django's full handler.
    wsgi_call(application, method="GET", path="/v1/models", HTTP_AUTHORIZATION=key)
    wsgi_call(application, method="GET", path=PATH, HTTP_AUTHORIZATION=key)
    assert opened == ["/v1/models", PATH]
