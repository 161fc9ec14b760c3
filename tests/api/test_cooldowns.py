"""Every failure class, as the simulator sends it over loopback, gets its own cooldown."""

import pytest
from django.utils import timezone

from llmfallback.models import KeyHealth, ProviderHealth

pytestmark = pytest.mark.django_db

MESSAGES = {"messages": [{"role": "user", "content": "hi"}]}
NOW = "2026-01-01 12:00:00"


def cooldown_s(provider: str, frozen_now) -> float:
    """The longer of the provider's and its key's remaining cooldown, 0 if none."""
    untils = [
        ProviderHealth.objects.get(name=provider).cooldown_until,
        KeyHealth.objects.get(provider__name=provider, label="k1").cooldown_until,
    ]
    return max([(u - frozen_now).total_seconds() for u in untils if u] or [0])


@pytest.mark.parametrize(
    "provider, step, error_type, low, high",
    [
        ("groq", {"behavior": "rate_limit", "retry_after": 7}, "rate_limit", 7, 7.8),
        ("groq", {"behavior": "rate_limit", "retry_after_ms": 2500}, "rate_limit", 2.5, 2.8),
        (
            "groq",
            {"behavior": "rate_limit", "no_header": True},
            "rate_limit",
            2,
            2.3,
        ),  # "try again in 2s"
        ("gemini", {"behavior": "rate_limit", "retry_delay": "37s"}, "rate_limit", 37, 41),
        ("deepseek", {"behavior": "rate_limit"}, "rate_limit", 60, 66),
        # "Please try again in 9m38.016s", and `retry-after: 579`: the later one, plus jitter
        ("groq", {"behavior": "quota"}, "quota", 579, 579 * 1.1),
        (
            "gemini",
            {"behavior": "quota"},
            "quota",
            3600,
            86400,
        ),  # per-day quota: not the short retryDelay
        ("deepseek", {"behavior": "quota"}, "quota", 3 * 3600, 3.3 * 3600),  # 402 balance: hours
        (
            "groq",
            {"behavior": "unavailable", "variant": "cloudflare502", "times": 3},
            "unavailable",
            10,
            11,
        ),
        (
            "gemini",
            {"behavior": "unavailable", "times": 3},
            "unavailable",
            10,
            11,
        ),  # one request: the base time, retries included
        (
            "deepseek",
            {"behavior": "malformed", "times": 3},
            "invalid_response",
            10,
            11,
        ),  # one request: the base time, retries included
        (
            "groq",
            {"behavior": "empty", "times": 3},
            "invalid_response",
            10,
            11,
        ),  # one request: the base time, retries included
        (
            "groq",
            {"behavior": "error_in_200", "times": 3},
            "unavailable",
            10,
            11,
        ),  # one request: the base time, retries included
    ],
)
def test_each_class_cools_down_as_the_policy_says(
    agent, use_providers, sim, time_machine, provider, step, error_type, low, high
):
    time_machine.move_to(NOW, tick=False)
    others = [p for p in ("groq", "gemini", "deepseek") if p != provider]
    use_providers(LLM_PROVIDER_PRIORITY=",".join([provider, *others]))
    sim.script(provider, [step])
    body = agent.post("/api/llm/chat", MESSAGES, format="json").json()
    assert body["provider"] == others[0]
    assert {a["error_type"] for a in body["attempts"] if a["provider"] == provider} == {error_type}
    assert low <= cooldown_s(provider, timezone.now()) <= high


def test_auth_failure_marks_the_key_unavailable_with_no_end(
    agent, use_providers, sim, time_machine
):
    time_machine.move_to(NOW, tick=False)
    sim.script("gemini", [{"behavior": "auth"}])
    use_providers(LLM_PROVIDER_PRIORITY="gemini,groq")
    assert agent.post("/api/llm/chat", MESSAGES, format="json").json()["provider"] == "groq"
    key = KeyHealth.objects.get(provider__name="gemini")
    assert key.is_unavailable and key.last_error_type == "auth"
    time_machine.shift(7 * 86400)
    agent.post("/api/llm/chat", MESSAGES, format="json")
    assert sim.calls()["gemini"] == 1


def test_a_content_filter_refusal_is_the_callers_400_without_fallback_or_cooldown(
    agent, use_providers, sim, time_machine
):
    time_machine.move_to(NOW, tick=False)
    use_providers(LLM_PROVIDER_PRIORITY="gemini,groq")
    sim.script("gemini", [{"behavior": "blocked"}])
    r = agent.post("/api/llm/chat", MESSAGES, format="json")
    assert r.status_code == 400 and r.json()["error_type"] == "content_filter"
    assert sim.calls()["groq"] == 0 and sim.calls()["gemini"] == 1
    assert cooldown_s("gemini", timezone.now()) == 0


def test_operators_may_route_around_a_content_filter(
    agent, use_providers, sim, time_machine, settings
):
    time_machine.move_to(NOW, tick=False)
    settings.LLM_CONTENT_FILTER_FALLBACK = True
    use_providers(LLM_PROVIDER_PRIORITY="gemini,groq")
    sim.script("gemini", [{"behavior": "blocked"}])
    assert agent.post("/api/llm/chat", MESSAGES, format="json").json()["provider"] == "groq"
    assert cooldown_s("gemini", timezone.now()) == 0
