import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from llmfallback.access import agent_keys
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
    assert (
        AuditEntry.objects.filter(action="provider_reset", actor="user:root").count() == 1
    )  # only the blocked one


def test_provider_admin_disables_and_enables(admin_client, providers):
    pk = ProviderHealth.objects.get(name="gemini").pk
    assert "Disabled 1 provider(s)." in act(admin_client, "providerhealth", "disable", [pk])
    assert not ProviderHealth.objects.get(pk=pk).is_enabled
    assert "Enabled 1 provider(s)." in act(admin_client, "providerhealth", "enable", [pk])


def test_disabling_every_enabled_provider_from_the_list_asks_again(admin_client, providers):
    pks = list(ProviderHealth.objects.values_list("pk", flat=True))
    page = act(admin_client, "providerhealth", "disable", pks)
    assert "leaves no provider enabled" in page and 'name="confirm_last" value="yes"' in page
    assert ProviderHealth.objects.filter(is_enabled=True).count() == len(pks)  # nothing yet
    answer = admin_client.post(
        "/admin/llmfallback/providerhealth/",
        {"action": "disable", "_selected_action": pks, "confirm_last": "yes"},
        follow=True,
    ).content.decode()
    assert f"Disabled {len(pks)} provider(s)." in answer
    assert not ProviderHealth.objects.filter(is_enabled=True).exists()


def test_disabling_some_providers_from_the_list_does_not_ask(admin_client, providers):
    pks = list(ProviderHealth.objects.exclude(name="groq").values_list("pk", flat=True))
    assert f"Disabled {len(pks)} provider(s)." in act(
        admin_client, "providerhealth", "disable", pks
    )


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


def test_provider_health_shows_available_as_a_positive_and_has_no_delete(admin_client, providers):
    ProviderHealth.objects.filter(name="gemini").update(is_unavailable=True)
    html = admin_client.get("/admin/llmfallback/providerhealth/").content.decode()
    assert "Available" in html and "Is unavailable" not in html
    assert html.count('alt="True"') >= 2 and html.count('alt="False"') == 1
    assert 'value="delete_selected"' not in html
    groq = ProviderHealth.objects.get(name="groq")
    page = admin_client.get(f"/admin/llmfallback/providerhealth/{groq.pk}/change/").content
    assert b"deletelink" not in page
    available = admin_client.get("/admin/llmfallback/providerhealth/?available=no").content
    assert b">gemini<" in available and b">groq<" not in available


def test_an_agent_key_is_created_in_the_admin_and_shown_once(admin_client, providers):
    r = admin_client.post(
        "/admin/llmfallback/agentkey/add/",
        {"name": "night-shift", "is_operator": "on", "rpm_limit": "30", "allowed_providers": ""},
    )
    html = r.content.decode()
    key = AgentKey.objects.get(name="night-shift")
    raw = re.search(r'<code id="new-key"[^>]*>(d8_[^<]+)</code>', html).group(1)
    assert agent_keys.key_hash(raw) == key.key_hash and key.is_operator and key.rpm_limit == 30
    assert "shown this once" in html
    assert (
        raw
        not in admin_client.get(f"/admin/llmfallback/agentkey/{key.pk}/change/").content.decode()
    )
    assert raw not in admin_client.get("/admin/llmfallback/agentkey/").content.decode()
    refused = admin_client.post("/admin/llmfallback/agentkey/add/", {"name": "night-shift"})
    assert refused.status_code == 200 and AgentKey.objects.count() == 1  # the name is taken


def test_the_admin_is_branded_and_links_the_dashboard(admin_client):
    html = admin_client.get("/admin/").content.decode()
    assert "d8 LLM Fallback</title>" in html
    assert 'href="/dashboard/llm"' in html and "Django administration" not in html
