"""What one caller's request may cost others (issue 24): a bad role is a 400, a gateway with
every provider disabled is a 503, a pinned provider that is cooling is no incident, and a
FallbackConfig never changes the shared manager."""

import json

import pytest
from django.test import Client

from llmfallback import services
from llmfallback.access import agent_keys
from llmfallback.models import AlertDelivery, Escalation
from llmfallback.runtime import runtime
from tests.v1.conftest import ask

pytestmark = pytest.mark.django_db
PINNED = "groq/llama-3.3-70b-versatile"


@pytest.mark.parametrize("role", [["user"], {"r": 1}, 1, None, True, ""])
def test_a_role_that_is_not_a_known_string_is_a_400_naming_it(chat, sim, role):
    body = {"model": "auto", "messages": [{"role": role, "content": "hi"}]}
    for stream in (False, True):
        r = chat(body | {"stream": stream})
        assert r.status_code == 400, r.content
        assert r.json()["error"]["param"] == "messages[0].role"
    assert not any(sim.calls().values())


@pytest.mark.parametrize(
    "url, body, param",
    [
        (
            "/v1/responses",
            {"model": "auto", "input": [{"role": ["user"], "content": "hi"}]},
            "input[0].role",
        ),
        ("/v1/responses", {"model": "auto", "input": [{"type": {}, "content": "hi"}]}, "input[0]"),
        (
            "/v1/messages",
            {
                "model": "auto",
                "max_tokens": 9,
                "messages": [{"role": "user", "content": [{"type": []}]}],
            },
            None,
        ),
    ],
)
def test_the_other_v1_faces_refuse_unhashable_roles_and_types_with_a_400(
    use_providers, sim, url, body, param
):
    key = agent_keys.agent_key_create(name="faces")[1]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}", "HTTP_X_API_KEY": key}
    r = Client().post(url, json.dumps(body), content_type="application/json", **auth)
    assert r.status_code == 400, r.content
    if param:
        assert r.json()["error"]["param"] == param
    assert not any(sim.calls().values())


def disable_all():
    runtime()  # its provider rows exist before they are disabled
    for name in ("groq", "gemini", "deepseek"):
        services.provider_disable(name=name, by="test")
    runtime().order = None  # every worker reads the order again within a second


@pytest.mark.parametrize("model", ["auto", "gemini", PINNED])
@pytest.mark.parametrize("stream", [False, True])
def test_every_provider_disabled_is_a_503_providers_unavailable_without_retry_after(
    chat, sim, model, stream
):
    disable_all()
    r = chat(ask(model=model, stream=stream))
    assert r.status_code == 503, r.content
    assert r.json()["error"]["code"] == "providers_unavailable"
    assert "disabled" in r.json()["error"]["message"]
    assert "Retry-After" not in r and "retry-after-ms" not in r
    assert not any(sim.calls().values())


@pytest.fixture
def alerts_on(settings):
    settings.LLM_ALERT_WEBHOOK_URL = "http://127.0.0.1:9/hook"  # never reached: nothing is sent


def cool_groq(chat, sim):
    sim.script("groq", [{"behavior": "rate_limit", "retry_after": 40}])
    assert chat(ask())["x-d8-provider"] == "gemini"  # groq's 429 cools it; gemini answers


@pytest.mark.parametrize("stream", [False, True])
def test_a_request_pinned_to_a_cooling_provider_says_so_and_opens_no_escalation(
    chat, sim, alerts_on, stream
):
    cool_groq(chat, sim)
    calls = dict(sim.calls())
    r = chat(ask(model=PINNED, stream=stream))
    assert r.status_code == 503, r.content
    message = r.json()["error"]["message"]
    assert "groq is cooling down for" in message and "after rate_limit" in message
    assert 30 <= int(r["Retry-After"]) <= 45
    assert sim.calls() == calls  # nobody was called
    assert not Escalation.objects.exists() and not AlertDelivery.objects.exists()


def test_the_same_on_api_llm_chat_through_a_python_config(use_providers, sim, chat, alerts_on):
    from llmfallback.manager import FallbackConfig, get_llm_manager

    cool_groq(chat, sim)
    outcome = get_llm_manager(FallbackConfig(provider_priority=["groq"])).ask(
        [{"role": "user", "content": "hi"}]
    )
    assert outcome.provider == "failed" and outcome.escalation is None
    assert "groq is cooling down" in outcome.error.reason
    assert not Escalation.objects.exists() and not AlertDelivery.objects.exists()


def test_a_pinned_provider_that_really_fails_counts_but_is_never_every_provider_failing(
    chat, sim, settings
):
    settings.LLM_CONGRESS_THRESHOLD_FAILURES = 1
    sim.script("groq", [{"behavior": "unavailable", "times": -1}])
    r = chat(ask(model=PINNED))
    assert r.status_code == 503
    escalation = Escalation.objects.get()  # its failures count toward the failure rate...
    assert escalation.trigger != "all_failed"  # ...but gemini and deepseek never failed


def test_every_enabled_provider_failing_still_escalates_as_all_failed(chat, sim):
    for name in ("groq", "gemini", "deepseek"):
        sim.script(name, [{"behavior": "unavailable", "times": -1}])
    assert chat(ask()).status_code == 503
    assert Escalation.objects.get().trigger == "all_failed"


def test_a_config_gives_a_manager_of_its_own_and_the_shared_one_is_unchanged(db):
    from llmfallback.manager import FallbackConfig, get_llm_manager

    shared = get_llm_manager()
    mine = get_llm_manager(FallbackConfig(provider_priority=["deepseek"]))
    assert mine is not shared and mine.config.provider_priority == ["deepseek"]
    assert get_llm_manager() is shared and shared.config.provider_priority is None
