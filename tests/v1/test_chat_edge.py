"""POST /v1/chat/completions answers every framework error itself, in OpenAI's envelope and in
DRF's order (406, then 401, then 415/413/400), since it runs off DRF (llmfallback/http/chat.py)."""

import json

import pytest
from django.test import Client

from llmfallback.access import agent_keys
from tests.v1.conftest import ask

pytestmark = pytest.mark.django_db
URL = "/v1/chat/completions"


@pytest.fixture
def key(use_providers) -> str:
    return agent_keys.agent_key_create(name="edge")[1]


def post(raw, *, key=None, content_type="application/json", **headers):
    if key:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    return Client().post(URL, raw, content_type=content_type, **headers)


def envelope(r, status: int) -> dict:
    assert r.status_code == status, r.content
    assert r["Content-Type"] == "application/json"
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    return error


@pytest.mark.parametrize(
    "raw, why",
    [
        ("{", "JSON parse error"),
        ("[1, 2]", "JSON object"),
        ('"hi"', "JSON object"),
        ("", "no body"),
        ('{"model": NaN}', "JSON parse error"),
        ("[" * 40 + "]" * 40, "nested too deeply"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_a_400(key, raw, why):
    assert why in envelope(post(raw, key=key), 400)["message"]


def test_a_body_over_the_limit_is_refused_from_its_declared_length(key, settings):
    settings.LLM_MAX_BODY_BYTES = 100
    r = post(json.dumps(ask("x" * 200)), key=key)
    assert envelope(r, 413)["code"] == "request_too_large"


def test_no_key_a_malformed_header_and_a_revoked_key_are_401s_with_the_scheme(key):
    for auth in (None, "Bearer", "Bearer a b", "Basic abc"):
        headers = {"HTTP_AUTHORIZATION": auth} if auth else {}
        r = post(json.dumps(ask()), **headers)
        assert envelope(r, 401)["code"] == "invalid_api_key"
        assert r["WWW-Authenticate"] == 'Bearer realm="api"'
    agent_keys.agent_key_revoke(name="edge")
    assert envelope(post(json.dumps(ask()), key=key), 401)["type"] == "authentication_error"


def test_the_order_is_406_then_401_then_415(key):
    r = post("x=1", content_type="text/plain", HTTP_ACCEPT="text/html")
    assert envelope(r, 406)["code"] == "not_acceptable"
    assert envelope(post("x=1", content_type="text/plain"), 401)
    assert envelope(post("x=1", key=key, content_type="text/plain"), 415)


def test_a_stream_may_ask_for_an_event_stream_only(key):
    r = post(json.dumps(ask(stream=True)), key=key, HTTP_ACCEPT="text/event-stream")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/event-stream")
    assert b"".join(r.streaming_content).rstrip().endswith(b"data: [DONE]")


def test_json_with_a_charset_is_json(key):
    r = post(json.dumps(ask()), key=key, content_type="application/json; charset=utf-8")
    assert r.status_code == 200 and r.json()["object"] == "chat.completion"


def test_a_crash_is_a_500_in_openai_shape_without_a_trace(key, monkeypatch):
    def boom(**_):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("llmfallback.http.services.agent_chat", boom)
    client = Client(raise_request_exception=False)
    r = client.post(URL, ask(), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert envelope(r, 500)["type"] == "server_error"
    assert b"secret internals" not in r.content and b"Traceback" not in r.content


def test_other_methods_are_405s_naming_post(key):
    r = Client().get(URL, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert envelope(r, 405)["code"] == "method_not_allowed"
    assert "POST" in r["Allow"]


@pytest.mark.parametrize(
    "accept, status",
    [
        ("application/json", 200),
        ("application/json, text/event-stream", 200),
        ("text/html, */*;q=0.1", 200),
        ("text/html;q=0.9, application/*", 200),
        ("text/html", 406),
        ("application/json;q=0, text/html", 406),
    ],
)
def test_accept_is_read_as_http_says(key, accept, status):
    assert post(json.dumps(ask()), key=key, HTTP_ACCEPT=accept).status_code == status
