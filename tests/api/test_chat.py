"""The chat API end to end: DRF view -> services -> engine -> adapters -> simulator over loopback."""

import pytest

from llmfallback.models import ErrorEvent, KeyHealth, ProviderHealth

pytestmark = pytest.mark.django_db

CHAT = "/api/llm/chat"


def chat(client, text="hello", **extra):
    return client.post(
        CHAT, {"messages": [{"role": "user", "content": text}], **extra}, format="json"
    )


def test_it_answers_from_groq_and_says_so(agent, use_providers, sim):
    r = chat(agent)
    assert r.status_code == 200
    body = r.json()
    assert body["provider"] == "groq"
    assert body["content"].endswith("hello")
    assert body["escalated_to_congress"] is False
    assert body["usage"]["total_tokens"] > 0
    assert [(a["provider"], a["error_type"], a["status"]) for a in body["attempts"]] == [
        ("groq", None, 200)
    ]


def test_unauthenticated_calls_get_401(client, db):
    r = client.post(CHAT, {}, content_type="application/json")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_wrong_key_gets_401(client, db):
    r = client.post(CHAT, {}, content_type="application/json", HTTP_AUTHORIZATION="Bearer nope")
    assert r.status_code == 401


@pytest.mark.parametrize(
    "payload, field",
    [
        ({}, "messages"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "wizard", "content": "x"}]}, "messages"),
        ({"messages": [{"role": "user"}]}, "messages"),
        ({"messages": [{"role": "system", "content": "only a system prompt"}]}, "messages"),
        ({"messages": [{"role": "user", "content": "x"}], "temperature": 9}, "temperature"),
        ({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, "max_tokens"),
        ({"messages": [{"role": "user", "content": "x"}], "json_mode": "perhaps"}, "json_mode"),
    ],
)
def test_invalid_input_gets_400_with_field_errors(agent, use_providers, sim, payload, field):
    r = agent.post(CHAT, payload, format="json")
    assert r.status_code == 400
    assert field in r.json()
    assert sim.calls().get("groq", 0) == 0


def test_malformed_json_gets_400(agent, use_providers):
    r = agent.post(CHAT, "{not json", content_type="application/json")
    assert r.status_code == 400


def test_it_falls_back_in_priority_order(agent, use_providers, sim):
    sim.script("groq", [{"behavior": "unavailable", "times": -1}])
    sim.script("gemini", [{"behavior": "rate_limit", "retry_after": 30}])
    body = chat(agent).json()
    assert body["provider"] == "deepseek"
    assert [a["provider"] for a in body["attempts"]] == ["groq"] * 3 + ["gemini", "deepseek"]
    assert [a["error_type"] for a in body["attempts"]] == ["unavailable"] * 3 + ["rate_limit", None]


def test_retry_after_is_honoured_across_requests(agent, use_providers, sim, time_machine):
    time_machine.move_to("2026-01-01 12:00:00", tick=False)
    sim.script("groq", [{"behavior": "rate_limit", "retry_after": 30}])
    assert chat(agent).json()["provider"] == "gemini"
    time_machine.shift(29)
    assert chat(agent).json()["provider"] == "gemini"
    assert sim.calls()["groq"] == 1
    time_machine.shift(5)  # past the hint plus at most 10 % jitter
    assert chat(agent).json()["provider"] == "groq"


def test_gemini_retry_info_is_honoured(agent, use_providers, sim, time_machine):
    time_machine.move_to("2026-01-01 12:00:00", tick=False)
    use_providers(LLM_PROVIDER_PRIORITY="gemini,deepseek")
    sim.script("gemini", [{"behavior": "rate_limit", "retry_delay": "37s"}])
    assert chat(agent).json()["provider"] == "deepseek"
    time_machine.shift(36)
    chat(agent)
    assert sim.calls()["gemini"] == 1
    time_machine.shift(6)  # past the hint plus at most 10 % jitter
    assert chat(agent).json()["provider"] == "gemini"


def test_when_all_cool_down_it_answers_503_at_once_with_retry_after(
    agent, use_providers, sim, time_machine
):
    time_machine.move_to("2026-01-01 12:00:00", tick=False)
    for name, wait in [("groq", 30), ("gemini", 45), ("deepseek", 50)]:
        sim.script(name, [{"behavior": "rate_limit", "retry_after": wait}])
    first = chat(agent)
    assert first.status_code == 503
    time_machine.shift(5)
    calls_before = sim.calls()
    r = chat(agent)
    assert r.status_code == 503
    assert 25 <= int(r.headers["Retry-After"]) <= 28  # groq's 30 s, 5 s later, plus jitter ≤ 10 %
    body = r.json()
    assert body["provider"] == "failed"
    assert body["attempts"] == []
    assert sim.calls() == calls_before


def test_the_callers_bad_request_is_a_4xx_with_the_providers_explanation(agent, use_providers, sim):
    sim.script("groq", [{"behavior": "bad_request"}])
    r = chat(agent)
    assert r.status_code == 400
    assert r.json()["error_type"] == "bad_request"
    assert r.json()["detail"]
    assert sim.calls().get("gemini", 0) == 0
    assert ProviderHealth.objects.get(name="groq").cooldown_until is None


def test_context_overflow_falls_back_without_cooldown(agent, use_providers, sim):
    sim.script("groq", [{"behavior": "context_length"}])
    body = chat(agent).json()
    assert body["provider"] == "gemini"
    assert body["attempts"][0]["error_type"] == "bad_request"
    assert KeyHealth.objects.get(provider__name="groq").cooldown_until is None
    assert ProviderHealth.objects.get(name="groq").cooldown_until is None


def test_a_revoked_key_rotates_to_the_next_key(agent, use_providers, sim):
    use_providers(GROQ_API_KEY="gsk_first_key_aaaaaaaaaaaa,gsk_second_key_bbbbbbbbbbb")
    sim.script("groq", [{"behavior": "auth", "times": -1}], key="gsk_first_key_aaaaaaaaaaaa")
    body = chat(agent).json()
    assert (body["provider"], body["attempts"][-1]["key"]) == ("groq", "k2")
    k1 = KeyHealth.objects.get(provider__name="groq", label="k1")
    assert k1.is_unavailable
    assert chat(agent).json()["attempts"] == [
        {
            "provider": "groq",
            "key": "k2",
            "error_type": None,
            "status": 200,
            "latency_ms": pytest.approx(0, abs=5000),
        }
    ]


def test_secrets_never_reach_the_error_history(agent, use_providers, sim):
    secret = "gsk_leaky_secret_cccccccccccccccc"
    use_providers(GROQ_API_KEY=secret)
    sim.script("groq", [{"behavior": "auth"}])
    chat(agent)
    event = ErrorEvent.objects.get(provider="groq")
    assert event.error_type == "auth"
    assert secret not in event.message
    health = agent.get("/api/llm/health").content.decode()
    assert secret not in health


def test_json_mode_invalid_answer_falls_back(agent, use_providers, sim):
    use_providers(LLM_PROVIDER_PRIORITY="deepseek,groq")
    sim.script("deepseek", [{"behavior": "json_invalid", "times": 3}])
    body = chat(agent, json_mode=True).json()
    assert body["provider"] == "groq"
    assert {a["error_type"] for a in body["attempts"][:-1]} == {"invalid_response"}


def test_health_reports_counts_cooldowns_and_recent_errors(agent, use_providers, sim):
    sim.script("groq", [{"behavior": "rate_limit", "retry_after": 30}])
    chat(agent)
    chat(agent)
    health = agent.get("/api/llm/health").json()
    assert health["total_requests"] == 2
    groq, gemini = health["providers"]["groq"], health["providers"]["gemini"]
    assert (groq["total_requests"], groq["total_failures"], groq["in_cooldown"]) == (1, 1, True)
    assert 28 < groq["cooldown_remaining_s"] <= 33
    assert groq["last_error_type"] == "rate_limit"
    assert groq["keys"]["k1"]["in_cooldown"] is True
    assert (gemini["total_requests"], gemini["success_rate"]) == (2, 100.0)
    assert health["recent_errors"][0]["error_type"] == "rate_limit"
    assert list(health["providers"]) == ["groq", "gemini", "deepseek"]


def test_an_unconfigured_provider_is_reported_and_skipped(agent, use_providers, sim):
    use_providers(GROQ_API_KEY="")
    assert chat(agent).json()["provider"] == "gemini"
    groq = agent.get("/api/llm/health").json()["providers"]["groq"]
    assert (groq["configured"], groq["missing"]) == (False, "GROQ_API_KEY")
    assert sim.calls().get("groq", 0) == 0


def test_reset_needs_an_operator(agent, operator, use_providers, sim):
    sim.script("groq", [{"behavior": "rate_limit", "retry_after": 300}])
    chat(agent)
    assert agent.post("/api/llm/providers/groq/reset").status_code == 403
    r = operator.post("/api/llm/providers/groq/reset")
    assert r.status_code == 200
    assert r.json()["changed"] is True
    assert chat(agent).json()["provider"] == "groq"


def test_reset_of_an_unknown_provider_is_404(operator, use_providers):
    assert operator.post("/api/llm/providers/nope/reset").status_code == 404


def test_health_reports_average_latency_per_provider_and_key(agent, use_providers, sim):
    sim.script("groq", [{"behavior": "ok", "delay_s": 0.2}])
    chat(agent)
    groq = agent.get("/api/llm/health").json()["providers"]["groq"]
    assert groq["avg_latency_ms"] >= 200
    assert groq["keys"]["k1"]["avg_latency_ms"] == groq["avg_latency_ms"]
    assert agent.get("/api/llm/health").json()["providers"]["deepseek"]["avg_latency_ms"] is None
