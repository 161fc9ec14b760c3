"""`model` routes the call; every failure answers in OpenAI's error envelope."""

import pytest
from rest_framework.test import APIClient

from tests.v1.conftest import ask

pytestmark = pytest.mark.django_db


def test_models_lists_auto_each_provider_and_its_model(agent, use_providers):
    body = agent.get("/v1/models").json()
    assert body["object"] == "list"
    ids = [m["id"] for m in body["data"]]
    assert ids[:3] == ["auto", "groq", "groq/llama-3.3-70b-versatile"]
    assert "gemini/gemini-2.5-flash" in ids and "deepseek/deepseek-chat" in ids
    assert all(m["object"] == "model" and isinstance(m["created"], int) for m in body["data"])
    one = agent.get("/v1/models/gemini/gemini-2.5-flash")
    assert one.status_code == 200 and one.json()["owned_by"] == "gemini"


def test_a_provider_missing_its_key_is_not_a_route(agent, use_providers):
    use_providers(GEMINI_API_KEY="")
    ids = [m["id"] for m in agent.get("/v1/models").json()["data"]]
    assert "gemini" not in ids
    r = agent.post("/v1/chat/completions", ask(model="gemini"), format="json")
    assert r.status_code == 404


def test_a_provider_name_is_preferred_then_the_chain_follows(chat, sim):
    r = chat(ask(model="deepseek"))
    assert r["x-d8-provider"] == "deepseek" and sim.calls()["groq"] == 0
    sim.script("deepseek", [{"behavior": "unavailable", "times": -1}])
    r = chat(ask(model="deepseek"))
    assert r["x-d8-provider"] == "groq"


def test_provider_slash_model_is_pinned_without_fallback(chat, sim):
    sim.script("gemini", [{"behavior": "unavailable", "times": -1}])
    r = chat(ask(model="gemini/gemini-2.5-flash"))
    assert r.status_code == 503
    assert sim.calls()["groq"] == 0 and sim.calls()["deepseek"] == 0


@pytest.mark.parametrize("model", ["gpt-4o", "groq/llama-3.1-8b-instant", "nobody/x", ""])
def test_an_unknown_model_is_a_404_model_not_found(chat, sim, model):
    r = chat(ask(model=model))
    if model == "":
        assert r.status_code == 400 and r.json()["error"]["param"] == "model"
        return
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "model_not_found"
    assert sum(sim.calls().values()) == 0


def test_every_provider_down_is_a_503_with_the_earliest_recovery(chat, sim):
    sim.script("groq", [{"behavior": "rate_limit", "retry_after": 40}])
    sim.script("gemini", [{"behavior": "rate_limit", "retry_delay": "20s"}])
    sim.script("deepseek", [{"behavior": "unavailable", "times": -1}])
    r = chat(ask())
    assert r.status_code == 503
    assert r.json()["error"]["type"] == "server_error"
    assert 1 <= int(r["Retry-After"]) <= 20
    assert int(r["retry-after-ms"]) <= 20_000
    assert [a["provider"] for a in r.json()["x_d8"]["attempts"]][:2] == ["groq", "gemini"]


def test_no_key_and_a_bad_key_are_401s_in_openai_shape(db, use_providers):
    anonymous = APIClient()
    r = anonymous.post("/v1/chat/completions", ask(), format="json")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_api_key"
    anonymous.credentials(HTTP_AUTHORIZATION="Bearer d8_not_a_key")
    r = anonymous.get("/v1/models")
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"


def test_v1_takes_agent_keys_only_a_signed_in_browser_is_no_caller(client, use_providers):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_superuser("root", "r@example.com", "pw"))
    assert client.get("/api/llm/health").status_code == 200  # /api/ keeps sessions
    r = client.post("/v1/chat/completions", ask(), content_type="application/json")
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"


def test_v1_answers_set_no_cookie_and_vary_on_none(agent, use_providers):
    r = agent.post("/v1/chat/completions", ask(), format="json")
    assert r.status_code == 200
    assert not r.cookies
    assert "Cookie" not in r.get("Vary", "") and "Accept-Language" not in r.get("Vary", "")


def test_wrong_method_media_type_and_url_answer_in_openai_shape(agent, use_providers):
    r = agent.get("/v1/chat/completions")
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
    r = agent.post("/v1/chat/completions", "x=1", content_type="application/x-www-form-urlencoded")
    assert r.status_code == 415 and "error" in r.json()
    r = agent.post("/v1/embeddings", {}, format="json")
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_url"


def test_a_body_over_the_limit_is_a_413_in_openai_shape(agent, use_providers, settings):
    settings.LLM_MAX_BODY_BYTES = 1000
    r = agent.post("/v1/chat/completions", ask("x" * 2000), format="json")
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"


def test_the_openapi_schema_documents_v1(client):
    paths = client.get("/api/schema").json()["paths"]
    assert "post" in paths["/v1/chat/completions"]
    assert "get" in paths["/v1/models"]
    assert "503" in paths["/v1/chat/completions"]["post"]["responses"]


def test_the_seed_chat_api_is_unchanged(agent, use_providers):
    r = agent.post(
        "/api/llm/chat", {"messages": [{"role": "user", "content": "Hi"}]}, format="json"
    )
    assert r.status_code == 200 and r.json()["content"] == "[groq] Hi"
    assert set(r.json()) == {
        "content",
        "provider",
        "model",
        "usage",
        "attempts",
        "escalated_to_congress",
    }
