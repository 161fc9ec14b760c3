"""Limits are set with `manage.py agent_key` and in the admin; usage shows in the admin."""

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from llmfallback.access import agent_keys, limits
from llmfallback.models import AgentKey

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command("agent_key", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_create_with_limits(use_providers):
    raw = run(
        "create", "bot", "--rpm", "60", "--tokens-per-day", "200000", "--providers", "groq,gemini"
    ).strip()
    key = AgentKey.objects.get(name="bot")
    assert (key.rpm_limit, key.tokens_per_day) == (60, 200000)
    assert key.provider_set == {"groq", "gemini"}
    assert agent_keys.agent_for_key(raw) == key


def test_limits_change_only_what_is_given_and_none_clears(use_providers):
    run("create", "bot", "--rpm", "60", "--tokens-per-day", "1000")
    assert "rpm=none" not in run("limits", "bot", "--rpm", "none")
    key = AgentKey.objects.get(name="bot")
    assert (key.rpm_limit, key.tokens_per_day) == (None, 1000)
    run("limits", "bot", "--providers", "gemini")
    run("limits", "bot", "--providers", "all")
    assert AgentKey.objects.get(name="bot").provider_set is None


def test_an_unknown_provider_is_refused_and_no_key_is_made(use_providers):
    with pytest.raises(CommandError, match="Unknown provider"):
        run("create", "bot", "--providers", "groq,grok")
    assert not AgentKey.objects.filter(name="bot").exists()


def test_limits_of_a_missing_key_or_without_options_fail(use_providers):
    with pytest.raises(CommandError, match="No active agent key"):
        run("limits", "ghost", "--rpm", "1")
    run("create", "bot")
    with pytest.raises(CommandError, match="Give --rpm"):
        run("limits", "bot")


def test_a_negative_or_wordy_limit_is_a_usage_error(use_providers):
    run("create", "bot")
    with pytest.raises(CommandError):
        run("limits", "bot", "--rpm", "-1")


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("root", "r@x.test", "pw"))
    return client


def test_the_admin_shows_usage_and_saving_keeps_the_counters(admin_client, use_providers):
    agent, _ = agent_keys.agent_key_create(name="bot")
    limits.request_admit(agent, now=1_800_000_000.0)
    limits.tokens_add(agent, 42, now=1_800_000_000.0)
    page = admin_client.get(f"/admin/llmfallback/agentkey/{agent.pk}/change/").content.decode()
    assert "tokens in all" in page.lower() and "42" in page
    assert agent.key_hash not in page
    r = admin_client.post(
        f"/admin/llmfallback/agentkey/{agent.pk}/change/",
        {"rpm_limit": "30", "tokens_per_day": "", "allowed_providers": "gemini"},
    )
    assert r.status_code == 302
    key = AgentKey.objects.get(pk=agent.pk)
    assert (key.rpm_limit, key.allowed_providers) == (30, "gemini")
    # Wherever the counts live (the row, or Redis in scale-out), saving left them alone.
    assert limits.usage(key, now=1_800_000_000.0).tokens_total == 42


def test_the_admin_refuses_an_unknown_provider(admin_client, use_providers):
    agent, _ = agent_keys.agent_key_create(name="bot")
    r = admin_client.post(
        f"/admin/llmfallback/agentkey/{agent.pk}/change/", {"allowed_providers": "grok"}
    )
    assert r.status_code == 200 and "Unknown provider" in r.content.decode()


def test_routes_are_set_and_cleared_by_name(use_providers, settings):
    from llmfallback.core.routing import parse_routes

    models = {c.name: c.model for c in settings.LLM_PROVIDERS}
    settings.LLM_ROUTES = parse_routes("fast=groq; long=gemini", models=models)
    out = run("create", "bot", "--default-route", "fast", "--routes", "auto,fast")
    key = AgentKey.objects.get(name="bot")
    assert (key.default_route, key.route_set) == ("fast", {"auto", "fast"})
    assert "routes=auto,fast\tdefault route=fast" in run("limits", "bot", "--routes", "auto,fast")
    run("limits", "bot", "--default-route", "none", "--routes", "all")
    key = AgentKey.objects.get(name="bot")
    assert (key.default_route, key.route_set) == ("", None)
    with pytest.raises(CommandError, match="Unknown route"):
        run("limits", "bot", "--default-route", "slow")
    assert out.startswith("d8_")
