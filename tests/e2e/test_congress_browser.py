"""A person governs an escalation in the admin, in headless Chromium against live_server: opens
the escalation's proposal, votes with a reason, approves, and sees the remedy carried out and
audited. django-q2 runs in sync mode; the remedy is queued on commit, so the database commits for
real (transaction=True). Screenshots go to test-artifacts/.
"""

import re

import httpx
import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from congress import services as congress
from congress.authority import Actor, Role
from congress.models import Proposal
from congress.votes import voter_weight_set
from llmfallback.access import agent_keys
from llmfallback.models import AuditEntry, Escalation
from llmfallback.runtime import provider_rows_sync
from tests.e2e.test_dashboard_browser import ARTIFACTS, DESKTOP, browser, shot  # noqa: F401  (fixture)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.same_on_any_database,
    pytest.mark.django_db(transaction=True),
]

# What each remedy writes to the audit log (llmfallback/escalation/remedies.py and services.py).
AUDITED_AS = {
    "provider_disable": "provider_disable",
    "provider_demote": "provider_demote",
    "provider_cooldown_reset": "provider_reset",
    "threshold_raise": "threshold_set",
}


@pytest.fixture
def sync_q(settings, monkeypatch):
    """django-q2 runs tasks inline; its Conf reads Q_CLUSTER once at import, so patch it too."""
    from django_q.conf import Conf

    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}
    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture
def escalated(live_server, use_providers, sim, sync_q):
    """Every provider fails one agent's request: the gateway escalates and files a proposal."""
    provider_rows_sync()
    staff = User.objects.create_user("ops", password="pw-ops-123", is_staff=True)
    staff.is_superuser = True  # sees every admin page, as the operator on duty would
    staff.save()
    voter_weight_set(name="user:ops", weight=2, by=Actor("user:root", Role.STAFF))
    _, key = agent_keys.agent_key_create(name="e2e-agent")
    sim.script("groq", [{"behavior": "auth", "times": -1}])
    for name in ("gemini", "deepseek"):
        sim.script(name, [{"behavior": "unavailable", "times": -1}])
    response = httpx.post(
        f"{live_server.url}/api/llm/chat",
        headers={"Authorization": f"Bearer {key}"},
        json={"messages": [{"role": "user", "content": "summarise the night's logs"}]},
        timeout=30,
    )
    assert response.status_code >= 500, response.text
    escalation = Escalation.objects.select_related("proposal").get()
    assert escalation.proposal is not None and escalation.proposal.remedy
    return live_server.url, escalation


def test_a_person_votes_approves_and_sees_the_remedy_carried_out_and_audited(browser, escalated):  # noqa: F811
    from playwright.sync_api import expect

    base_url, escalation = escalated
    proposal = escalation.proposal
    context = browser.new_context(viewport=DESKTOP, locale="en-US")
    page = context.new_page()
    page.goto(f"{base_url}/admin/llmfallback/escalation/")
    page.get_by_label("Username").fill("ops")
    page.get_by_label("Password").fill("pw-ops-123")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name=str(escalation.number), exact=True).click()

    expect(page.locator("#provider-snapshot")).to_contain_text("groq")
    expect(page.locator("#timeline")).to_contain_text("opened")
    expect(page.locator("#messages")).to_contain_text("summarise the night's logs")
    shot(page, "congress-01-escalation")

    page.get_by_test_id("proposal-link").click()
    page.wait_for_url(re.compile(rf"/admin/congress/proposal/{proposal.pk}/change/$"))
    expect(page.get_by_test_id("status")).to_have_text("voting")
    expect(page.locator("#remedy")).to_contain_text(proposal.remedy)
    shot(page, "congress-02-proposal")

    page.get_by_label("Reason").fill("groq's key is revoked; stop calling it")
    page.get_by_role("button", name="Vote yes").click()
    expect(page.locator(".messagelist")).to_contain_text("You voted yes.")
    expect(page.get_by_test_id("yes")).to_have_text("2")  # the voter record's weight
    expect(page.locator("#vote")).to_contain_text("You voted yes.")
    expect(page.locator(".inline-group")).to_contain_text("groq's key is revoked")
    shot(page, "congress-03-voted")
    page.locator("#governance").screenshot(path=str(ARTIFACTS / "congress-03-voted-panel.png"))

    page.get_by_label("Note (why)").fill("operator on duty")
    page.get_by_role("button", name="Approve", exact=True).click()
    expect(page.get_by_test_id("status")).to_have_text("implemented")
    expect(page.locator("#remedy")).to_contain_text("Carried out.")
    expect(page.get_by_test_id("decided-by")).to_contain_text("user:ops")
    shot(page, "congress-04-implemented")
    page.locator("#governance").screenshot(path=str(ARTIFACTS / "congress-04-panel.png"))

    proposal = Proposal.objects.get(pk=proposal.pk)
    assert proposal.decided_by == "user:ops" and proposal.remedy_attempts == 1
    action = AUDITED_AS[proposal.remedy]
    page.goto(f"{base_url}/admin/llmfallback/auditentry/")
    rows = page.locator("#result_list tbody tr")
    row = rows.filter(has=page.locator("td.field-action", has_text=re.compile(f"^{action}$")))
    expect(row).to_contain_text("user:ops")
    expect(row).to_contain_text(f"remedy of proposal {proposal.code}")  # names its proposal
    approval = rows.filter(has=page.locator("td.field-action", has_text="proposal_approved"))
    expect(approval).to_contain_text(proposal.code)
    shot(page, "congress-05-audit")
    assert AuditEntry.objects.filter(action=action, actor="user:ops").exists()
    context.close()


@pytest.fixture
def failed_remedy(live_server, use_providers, sync_q):
    """An approved proposal whose remedy failed once, as proposal_implement records it."""
    provider_rows_sync()
    User.objects.create_superuser("ops", "ops@example.com", "pw-ops-123")
    proposal = congress.proposal_create(
        title="Demote groq",
        proposed_by="agent:a",
        remedy="provider_demote",
        remedy_args={"provider": "groq"},
        open_voting=True,
    )
    Proposal.objects.filter(pk=proposal.pk).update(  # approved, and its first run failed
        status="approved",
        decided_by="user:root",
        decided_at=timezone.now(),
        remedy_error="OperationalError: database is locked",
        remedy_failed_at=timezone.now(),
        remedy_attempts=1,
    )
    return live_server.url, proposal


def test_a_failed_remedy_shows_on_the_dashboard_and_a_retry_carries_it_out(browser, failed_remedy):  # noqa: F811
    from playwright.sync_api import expect

    base_url, proposal = failed_remedy
    context = browser.new_context(viewport=DESKTOP, locale="en-US")
    page = context.new_page()
    page.goto(f"{base_url}/dashboard/llm")
    page.get_by_label("Username").fill("ops")
    page.get_by_label("Password").fill("pw-ops-123")
    page.get_by_role("button", name="Log in").click()
    panel = page.locator("#failed-remedies")
    expect(panel).to_contain_text("database is locked")
    expect(panel).to_contain_text("1 attempt")
    panel.screenshot(path=str(ARTIFACTS / "congress-06-dashboard-failed-remedy.png"))

    panel.get_by_role("link", name=re.compile(proposal.code)).click()
    expect(page.get_by_test_id("remedy-failure")).to_contain_text("database is locked")
    shot(page, "congress-07-remedy-failed")
    page.get_by_role("button", name="Retry the remedy").click()
    expect(page.locator(".messagelist")).to_contain_text("The remedy was queued again.")
    expect(page.get_by_test_id("status")).to_have_text("implemented")
    expect(page.get_by_test_id("remedy-failure")).to_have_count(0)
    page.goto(f"{base_url}/dashboard/llm")
    expect(page.locator("#failed-remedies")).to_have_count(0)
    context.close()
