"""Named routes (LLM_ROUTES) over the simulator: a route's own providers and models, the
context-length overflow to a larger-context route, per-agent routes, and /v1/models."""

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from llmfallback.access import agent_keys
from llmfallback.core.routing import parse_routes
from tests.v1.conftest import ask
from tests.v1.test_streaming_api import events_of, text_of

pytestmark = pytest.mark.django_db

ROUTES = (
    "fast=groq/llama-3.1-8b-instant>long;"
    " smart=deepseek,gemini;"
    " long=gemini/gemini-2.5-pro,deepseek"
)
CONTEXT = {"behavior": "context_length"}


@pytest.fixture
def routes(settings, use_providers):
    """Set LLM_ROUTES (and LLM_DEFAULT_ROUTE) for the gateway over the simulator."""

    def configure(raw=ROUTES, default=None):
        models = {c.name: c.model for c in settings.LLM_PROVIDERS}
        settings.LLM_ROUTES = parse_routes(raw, models=models)
        settings.LLM_DEFAULT_ROUTE = default

    configure()
    return configure


def pairs(body) -> list:
    return [(a["provider"], a["error_type"]) for a in body["x_d8"]["attempts"]]


def test_a_route_calls_its_own_providers_with_its_own_models(chat, routes):
    r = chat(ask(model="fast"))
    assert r.status_code == 200, r.json()
    assert r.json()["model"] == "groq/llama-3.1-8b-instant"
    assert chat(ask(model="smart")).json()["model"] == "deepseek/deepseek-chat"


def test_a_context_length_refusal_goes_on_to_the_long_route(chat, routes, sim):
    sim.script("groq", [CONTEXT])
    r = chat(ask("a very long prompt", model="fast"))
    assert r.status_code == 200, r.json()
    assert r.json()["model"] == "gemini/gemini-2.5-pro"
    assert pairs(r.json()) == [("groq", "bad_request"), ("gemini", None)]


def test_a_streamed_context_length_refusal_goes_on_to_the_long_route(chat, routes, sim):
    sim.script("groq", [CONTEXT])
    r = chat(ask("a very long prompt", model="fast", stream=True))
    assert r.status_code == 200 and r["x-d8-provider"] == "gemini"
    events = events_of(r)
    assert events[0]["model"] == "gemini/gemini-2.5-pro"
    assert "a very long prompt" in text_of(events) and events[-1] == "[DONE]"


def test_without_an_overflow_route_the_refusal_is_the_callers_413(chat, routes, sim):
    for name in ("gemini", "deepseek"):
        sim.script(name, [CONTEXT])
    r = chat(ask(model="smart"))
    assert r.status_code == 413
    assert pairs(r.json()) == [("deepseek", "bad_request"), ("gemini", "bad_request")]


def test_overflow_happens_once_and_the_last_refusal_is_answered(chat, routes, sim):
    for name in ("groq", "gemini", "deepseek"):
        sim.script(name, [CONTEXT])
    r = chat(ask(model="fast"))
    assert r.status_code == 413
    assert [p for p, _ in pairs(r.json())] == ["groq", "gemini", "deepseek"]


def test_a_context_refusal_beside_an_outage_still_overflows(chat, routes, sim):
    routes("fast=groq,deepseek>long; long=gemini/gemini-2.5-pro")
    sim.script("groq", [CONTEXT])
    sim.script("deepseek", [{"behavior": "unavailable", "times": 3}])
    r = chat(ask(model="fast"))
    assert r.status_code == 200 and r.json()["model"] == "gemini/gemini-2.5-pro"
    assert [p for p, _ in pairs(r.json())] == ["groq", "deepseek", "deepseek", "deepseek", "gemini"]


def test_other_failures_do_not_overflow(chat, routes, sim):
    sim.script("groq", [{"behavior": "rate_limit", "retry_after": 30}])
    r = chat(ask(model="fast"))
    assert r.status_code == 503
    assert sim.calls().get("gemini", 0) == 0


def test_auto_follows_the_default_route(chat, routes):
    routes(default="smart")
    assert chat(ask()).json()["model"] == "deepseek/deepseek-chat"


def test_an_agents_default_route_wins_and_its_allowed_routes_are_enforced(routes, sim):
    _, raw = agent_keys.agent_key_create(name="routed")
    agent_keys.agent_key_limits_set(name="routed", default_route="long", allowed_routes="long,fast")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    post = lambda body: client.post("/v1/chat/completions", body, format="json")  # noqa: E731
    assert post(ask()).json()["model"] == "gemini/gemini-2.5-pro"
    assert post(ask(model="fast")).status_code == 200
    for model in ("smart", "groq", "groq/llama-3.3-70b-versatile"):
        r = post(ask(model=model))
        assert r.status_code == 403, model
        assert r.json()["error"]["code"] == "route_not_allowed"
    assert sim.calls().get("deepseek", 0) == 0


def test_models_lists_the_routes(agent, routes):
    ids = [m["id"] for m in agent.get("/v1/models").json()["data"]]
    assert ids[:4] == ["auto", "fast", "smart", "long"]
    assert "gemini/gemini-2.5-pro" in ids and "groq/llama-3.1-8b-instant" in ids


def test_a_pinned_route_model_answers(chat, routes):
    r = chat(ask(model="gemini/gemini-2.5-pro"))
    assert r.status_code == 200 and r.json()["model"] == "gemini/gemini-2.5-pro"


def test_an_agents_routes_must_be_defined_ones(routes):
    agent_keys.agent_key_create(name="typo")
    with pytest.raises(ValidationError, match="Unknown route"):
        agent_keys.agent_key_limits_set(name="typo", allowed_routes="fast,fsat")
