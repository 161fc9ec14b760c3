"""Operator keys enable, disable and move providers over HTTP, as the authority table says."""

import pytest

from llmfallback.models import AuditEntry, ProviderHealth
from llmfallback.runtime import provider_rows_sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows(use_providers):
    provider_rows_sync()


def order():
    return list(ProviderHealth.objects.order_by("priority").values_list("name", flat=True))


def test_an_operator_key_disables_enables_and_moves_a_provider(operator, rows):
    r = operator.post("/api/llm/providers/gemini/disable")
    assert r.status_code == 200, r.content
    assert r.json() | {"order": None} == {
        "provider": "gemini", "action": "disable", "changed": True, "order": None,
        "enabled": ["groq", "deepseek"],
    }  # fmt: skip
    assert not ProviderHealth.objects.get(name="gemini").is_enabled
    assert operator.post("/api/llm/providers/gemini/enable").json()["changed"] is True
    r = operator.post("/api/llm/providers/deepseek/up")
    assert r.json()["order"] == ["groq", "deepseek", "gemini"] == order()
    assert operator.post("/api/llm/providers/groq/up").json()["changed"] is False  # first already
    actions = list(AuditEntry.objects.values_list("action", "actor").order_by("id"))
    assert actions == [
        ("provider_disable", "agent:test-operator"),
        ("provider_enable", "agent:test-operator"),
        ("provider_move_up", "agent:test-operator"),
    ]


def test_an_agent_key_may_not_move_providers(agent, rows):
    for action in ("enable", "disable", "up", "down"):
        assert agent.post(f"/api/llm/providers/groq/{action}").status_code == 403
    assert order() == ["groq", "gemini", "deepseek"] and not AuditEntry.objects.exists()


def test_unknown_provider_or_action_is_404(operator, rows):
    assert operator.post("/api/llm/providers/nope/disable").status_code == 404
    assert operator.post("/api/llm/providers/groq/explode").status_code == 404


def test_disabling_the_last_enabled_provider_needs_a_confirmation(operator, rows):
    ProviderHealth.objects.exclude(name="groq").update(is_enabled=False)
    r = operator.post("/api/llm/providers/groq/disable")
    assert r.status_code == 409 and "503" in r.json()["detail"]
    assert ProviderHealth.objects.get(name="groq").is_enabled
    r = operator.post("/api/llm/providers/groq/disable", {"confirm_last": True}, format="json")
    assert r.status_code == 200 and r.json()["enabled"] == []


def test_an_unknown_field_is_a_400(operator, rows):
    r = operator.post("/api/llm/providers/groq/up", {"force": True}, format="json")
    assert r.status_code == 400 and "force" in r.json()["detail"]


def test_reset_with_nothing_to_reset_writes_no_audit_entry(operator, rows):
    r = operator.post("/api/llm/providers/groq/reset")
    assert r.json()["changed"] is False
    assert not AuditEntry.objects.exists()
