from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from llmfallback import agent_keys
from llmfallback.models import AgentKey, AuditEntry, ErrorEvent, KeyHealth, ProviderHealth


@pytest.fixture
def admin_client(client, db):
    client.force_login(User.objects.create_superuser("root", password="pw"))
    return client


def act(client, model, action, pks):
    return client.post(
        f"/admin/llmfallback/{model}/", {"action": action, "_selected_action": pks}, follow=True
    ).content.decode()


def test_provider_admin_resets_cooldowns_and_reports_a_count(admin_client, providers):
    KeyHealth.objects.filter(provider__name="groq").update(
        cooldown_until=timezone.now() + timedelta(minutes=1)
    )
    pks = list(ProviderHealth.objects.values_list("pk", flat=True))
    assert "Reset 1 blocked provider(s)." in act(
        admin_client, "providerhealth", "reset_cooldown", pks
    )
    assert AuditEntry.objects.filter(action="provider_reset", actor="user:root").count() == 1  # only the blocked one


def test_provider_admin_disables_and_enables(admin_client, providers):
    pk = ProviderHealth.objects.get(name="gemini").pk
    assert "Disabled 1 provider(s)." in act(admin_client, "providerhealth", "disable", [pk])
    assert not ProviderHealth.objects.get(pk=pk).is_enabled
    assert "Enabled 1 provider(s)." in act(admin_client, "providerhealth", "enable", [pk])


def test_provider_change_page_shows_the_keys_inline(admin_client, providers):
    pk = ProviderHealth.objects.get(name="groq").pk
    html = admin_client.get(f"/admin/llmfallback/providerhealth/{pk}/change/").content.decode()
    assert "k1" in html


def test_error_history_is_read_only_with_filters(admin_client, providers):
    event = ErrorEvent.objects.create(
        created_at=timezone.now(), provider="groq", error_type="timeout"
    )
    page = admin_client.get("/admin/llmfallback/errorevent/?provider=groq&error_type=timeout")
    assert page.status_code == 200 and "timeout" in page.content.decode()
    assert admin_client.get("/admin/llmfallback/errorevent/add/").status_code == 403
    assert admin_client.post(f"/admin/llmfallback/errorevent/{event.pk}/delete/").status_code == 403


def test_audit_log_is_read_only(admin_client, providers):
    entry = AuditEntry.objects.create(actor="x", action="provider_reset", target="groq")
    assert admin_client.get("/admin/llmfallback/auditentry/").status_code == 200
    assert admin_client.get("/admin/llmfallback/auditentry/add/").status_code == 403
    response = admin_client.post(
        f"/admin/llmfallback/auditentry/{entry.pk}/change/", {"actor": "y"}
    )
    assert response.status_code == 403


def test_agent_keys_can_be_revoked_but_their_hash_is_never_shown(admin_client):
    key, raw = agent_keys.agent_key_create(name="bot")
    html = admin_client.get(f"/admin/llmfallback/agentkey/{key.pk}/change/").content.decode()
    assert key.key_hash not in html and raw not in html
    assert "Revoked 1 key(s)." in act(admin_client, "agentkey", "revoke", [key.pk])
    assert AgentKey.objects.get(pk=key.pk).revoked_at is not None
