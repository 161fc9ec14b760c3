"""Every error under /api/ is JSON with a "detail"; the HTML pages keep their HTML errors."""

import json
import logging

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import RequestDataTooBig
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from d8site.api import errors
from llmfallback import selectors

pytestmark = pytest.mark.django_db

CHAT = "/api/llm/chat"
HELLO = {"messages": [{"role": "user", "content": "hello"}]}


def assert_json_error(r, status: int) -> dict:
    assert r.status_code == status, r.content[:300]
    assert r["Content-Type"].startswith("application/json")
    body = json.loads(r.content)
    assert isinstance(body["detail"], str) and body["detail"]
    assert b"Traceback" not in r.content
    return body


def post_raw(client, path, body: bytes | str, content_type="application/json"):
    return client.generic("POST", path, body, content_type=content_type)


# --- 400: the body cannot be read --------------------------------------------------------


def test_malformed_json_is_a_400(agent, sim):
    body = assert_json_error(post_raw(agent, CHAT, b'{"messages": [}'), 400)
    assert "JSON parse error" in body["detail"]
    assert sim.calls() == {} or sum(sim.calls().values()) == 0


def test_json_nested_past_the_interpreters_recursion_limit_is_a_400_not_a_500(agent):
    deep = "[" * 100_000 + "]" * 100_000
    body = assert_json_error(post_raw(agent, CHAT, deep), 400)
    assert "nested too deeply" in body["detail"]


def test_json_one_level_past_the_documented_depth_is_a_400(agent, settings):
    settings.LLM_MAX_JSON_DEPTH = 5
    nested = {"a": {"b": {"c": {"d": {}}}}}  # body, metadata, a, b, c, d: six levels
    r = agent.post("/api/congress/proposals", {"title": "t", "metadata": nested}, format="json")
    assert "limit is 5 levels" in assert_json_error(r, 400)["detail"]


def test_json_at_the_documented_depth_is_accepted(agent, settings):
    settings.LLM_MAX_JSON_DEPTH = 5
    nested = {"a": {"b": {"c": {}}}}  # body, metadata, a, b, c: five levels
    r = agent.post("/api/congress/proposals", {"title": "t", "metadata": nested}, format="json")
    assert r.status_code == 201, r.content


def test_nan_and_infinity_are_not_json(agent):
    r = post_raw(
        agent, CHAT, '{"messages": [{"role": "user", "content": "x"}], "temperature": NaN}'
    )
    assert_json_error(r, 400)


def test_a_body_that_is_not_utf8_is_a_400(agent):
    assert_json_error(post_raw(agent, CHAT, b'{"context": "\xff\xfe"}'), 400)


# --- 413: too large ----------------------------------------------------------------------


def test_a_body_over_the_limit_is_a_413_and_reaches_no_provider(
    agent, settings, use_providers, sim
):
    settings.LLM_MAX_BODY_BYTES = 1000
    big = {"messages": [{"role": "user", "content": "x" * 2000}]}
    body = assert_json_error(agent.post(CHAT, big, format="json"), 413)
    assert "1000 bytes" in body["detail"] and "LLM_MAX_BODY_BYTES" in body["detail"]
    assert sum(sim.calls().values()) == 0


def test_a_declared_length_over_the_limit_is_a_413_before_the_body_is_read(settings):
    from django.test.client import FakePayload
    from rest_framework.test import APIRequestFactory

    from llmfallback.http.api import ChatApi

    settings.LLM_MAX_BODY_BYTES = 1000
    request = APIRequestFactory().post(CHAT, b"{}", content_type="application/json")
    request.META["CONTENT_LENGTH"] = "5000000"
    request._stream = payload = FakePayload(b"{}")
    r = ChatApi.as_view(authentication_classes=[], permission_classes=[])(request)
    assert_json_error(r.render(), 413)
    assert payload.read_started is False


def test_a_body_just_under_the_limit_is_read(agent, settings, use_providers, sim):
    payload = json.dumps(HELLO).encode()
    settings.LLM_MAX_BODY_BYTES = len(payload)
    assert post_raw(agent, CHAT, payload).status_code == 200


def test_a_body_arriving_in_small_reads_is_read_whole(settings):
    import io

    from d8site.api.parsers import BoundedJSONParser

    class Trickle(io.BytesIO):
        def read(self, size=-1):
            return super().read(min(size, 3) if size and size > 0 else 3)

    settings.LLM_MAX_BODY_BYTES = 100
    assert BoundedJSONParser().parse(Trickle(b'{"messages": [1, 2, 3]}')) == {"messages": [1, 2, 3]}
    with pytest.raises(Exception, match="too large"):
        BoundedJSONParser().parse(Trickle(b'{"k": "' + b"x" * 200 + b'"}'))


def test_djangos_own_body_limit_is_a_json_413_under_api_and_html_elsewhere():
    factory = RequestFactory()
    r = errors.bad_request(factory.post("/api/llm/chat"), RequestDataTooBig("too big"))
    assert_json_error(r, 413)
    page = errors.bad_request(factory.post("/admin/login/"), RequestDataTooBig("too big"))
    assert page.status_code == 400 and not page["Content-Type"].startswith("application/json")


# --- 415, 405, 406, 404 ------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("text/plain", "hello"),
        ("application/x-www-form-urlencoded", "messages=hello"),
        ("multipart/form-data; boundary=xyz", "--xyz--"),
        ("", '{"messages": []}'),
    ],
)
def test_a_body_that_is_not_json_is_a_415(agent, content_type, body):
    assert_json_error(post_raw(agent, CHAT, body, content_type=content_type), 415)


def test_a_wrong_method_is_a_405(agent):
    body = assert_json_error(agent.get(CHAT), 405)
    assert "GET" in body["detail"]


def test_an_accept_header_without_json_is_a_406_in_json(agent):
    assert_json_error(agent.get("/api/llm/health", HTTP_ACCEPT="text/html"), 406)


@pytest.mark.parametrize("path", ["/api/nope", "/api/llm/chat/", "/api/llm/escalations/x"])
def test_an_unknown_api_url_is_a_json_404(agent, path):
    assert_json_error(agent.get(path), 404)


def test_an_unknown_api_url_is_a_json_404_with_debug_on_too(agent, settings):
    settings.DEBUG = True
    for method in ("get", "post", "delete"):
        assert_json_error(getattr(agent, method)("/api/llm/nope"), 404)


def test_a_post_to_an_unknown_api_url_is_a_404_not_a_csrf_failure():
    client = Client(enforce_csrf_checks=True)
    assert_json_error(client.post("/api/llm/nope", {}, content_type="application/json"), 404)


def test_a_missing_object_is_a_json_404(operator, use_providers):
    assert_json_error(operator.get("/api/congress/proposals/NOPE-1"), 404)
    assert_json_error(operator.get("/api/llm/escalations/999"), 404)
    assert_json_error(operator.post("/api/llm/providers/nope/reset"), 404)


def test_html_pages_keep_their_html_errors(client):
    r = client.get("/dashboard/nope")
    assert r.status_code == 404 and r["Content-Type"].startswith("text/html")


# --- 401, 403, CSRF ----------------------------------------------------------------------


def test_no_key_is_a_json_401(client):
    assert_json_error(client.post(CHAT, HELLO, content_type="application/json"), 401)


def test_an_agent_key_may_not_reset_providers(agent, use_providers):
    assert_json_error(agent.post("/api/llm/providers/groq/reset"), 403)


def test_a_signed_in_post_without_csrf_token_is_a_json_403():
    user = User.objects.create_user("staff", password="pw-123456", is_staff=True)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    body = assert_json_error(client.post(CHAT, HELLO, format="json"), 403)
    assert "CSRF" in body["detail"]


def test_djangos_csrf_failure_view_answers_json_under_api_only():
    factory = RequestFactory()
    assert_json_error(errors.csrf_failure(factory.post("/api/x"), reason="no token"), 403)
    page = errors.csrf_failure(factory.post("/accounts/login/"), reason="no token")
    assert page.status_code == 403 and page["Content-Type"].startswith("text/html")


# --- 500 ---------------------------------------------------------------------------------


def test_an_unexpected_error_is_a_json_500_without_trace_and_is_logged(monkeypatch, caplog):
    from llmfallback.access import agent_keys

    _, raw = agent_keys.agent_key_create(name="crashy")

    def boom(**_):  # health_report(viewer=...)
        raise RuntimeError("internal detail gsk_notforcallers")

    monkeypatch.setattr(selectors, "health_report", boom)
    client = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {raw}")
    with caplog.at_level(logging.ERROR):
        r = client.get("/api/llm/health")
    body = assert_json_error(r, 500)
    assert "gsk_" not in r.content.decode() and "RuntimeError" not in r.content.decode()
    assert body == {"detail": errors.SERVER_ERROR}
    assert any(
        rec.exc_info and "gsk_notforcallers" in str(rec.exc_info[1]) for rec in caplog.records
    )


def test_djangos_500_view_answers_json_under_api_and_html_elsewhere():
    factory = RequestFactory()
    assert_json_error(errors.server_error(factory.get("/api/llm/health")), 500)
    page = errors.server_error(factory.get("/dashboard/llm"))
    assert page.status_code == 500 and page["Content-Type"].startswith("text/html")


# --- Unsupported input is refused, not ignored -------------------------------------------


def test_stream_true_is_a_400_saying_streaming_is_not_supported(agent, use_providers, sim):
    body = assert_json_error(agent.post(CHAT, {**HELLO, "stream": True}, format="json"), 400)
    assert "Streaming is not supported" in body["detail"] and "stream" in body
    assert sum(sim.calls().values()) == 0


def test_stream_false_is_accepted(agent, use_providers, sim):
    assert agent.post(CHAT, {**HELLO, "stream": False}, format="json").status_code == 200


def test_unknown_chat_fields_are_a_400_naming_them(agent, use_providers, sim):
    r = agent.post(CHAT, {**HELLO, "max_token": 5, "top_p": 0.5}, format="json")
    body = assert_json_error(r, 400)
    assert "'max_token'" in body["detail"] and "'top_p'" in body["detail"]
    assert sum(sim.calls().values()) == 0


def test_unknown_fields_inside_a_message_are_a_400(agent, use_providers):
    payload = {"messages": [{"role": "user", "content": "hi", "name": "bob"}]}
    body = assert_json_error(agent.post(CHAT, payload, format="json"), 400)
    assert "'name'" in body["detail"]


def test_field_errors_keep_their_keys_beside_the_detail(agent):
    body = assert_json_error(agent.post(CHAT, {"temperature": 9}, format="json"), 400)
    assert {"messages", "temperature"} <= set(body)
    assert "temperature:" in body["detail"] and "messages:" in body["detail"]


def test_the_detail_names_nested_fields_by_their_path(agent):
    payload = {"messages": [{"role": "user", "content": "x"}, {"role": "wizard", "content": "y"}]}
    body = assert_json_error(agent.post(CHAT, payload, format="json"), 400)
    assert body["detail"].startswith("messages[1].role: ")


def test_errors_about_the_whole_body_carry_no_field_prefix(agent):
    body = assert_json_error(post_raw(agent, CHAT, "[]"), 400)
    assert body["detail"] == "Invalid data. Expected a dictionary, but got list."


@pytest.mark.parametrize(
    "path, payload",
    [
        ("/api/congress/proposals", {"title": "t", "titel": "typo"}),
        ("/api/congress/proposals/{code}/votes", {"choice": "yes", "wieght": 2}),
        ("/api/congress/proposals/{code}/transition", {"to": "voting", "force": True}),
    ],
)
def test_congress_inputs_refuse_unknown_fields(operator, path, payload):
    created = operator.post("/api/congress/proposals", {"title": "p"}, format="json")
    code = created.json()["code"]
    r = operator.post(path.format(code=code), payload, format="json")
    assert "Unknown field" in assert_json_error(r, 400)["detail"]


def test_an_unknown_escalation_status_filter_is_a_400(agent):
    assert_json_error(agent.get("/api/llm/escalations?status=weird"), 400)
    assert agent.get("/api/llm/escalations?status=open").status_code == 200


@pytest.mark.parametrize("field", ["metadata", "remedy_args"])
def test_a_null_character_in_free_form_json_is_a_400_as_postgresql_cannot_store_it(agent, field):
    for value in ({"k": "a\x00b"}, {"k\x00": 1}, {"k": [{"deep": "\x00"}]}):
        r = agent.post("/api/congress/proposals", {"title": "t", field: value}, format="json")
        assert field in assert_json_error(r, 400)


def test_numbers_past_the_database_columns_are_a_400(agent):
    for field in ("quorum", "electorate"):
        r = agent.post("/api/congress/proposals", {"title": "t", field: 10**30}, format="json")
        assert field in assert_json_error(r, 400)


@pytest.mark.parametrize("path", ["/api/llm/health", "/api/congress/proposals"])
def test_a_stray_format_parameter_is_ignored_not_a_404(agent, path):
    r = agent.get(path, {"format": "s|\U000fc56b"})
    assert r.status_code == 200 and r["Content-Type"].startswith("application/json")
