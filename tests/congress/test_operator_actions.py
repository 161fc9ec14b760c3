"""Operators act where they look: the escalation page resolves, decisions are audited, a
remedy's audit entry names its proposal, the proposal's Markdown is rendered safely."""

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from congress import services
from congress.models import Proposal
from llmfallback.models import AuditEntry, Escalation, ProviderHealth

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    client.force_login(User.objects.create_superuser("alice", "a@example.com", "pw-pw-pw-pw"))
    return client


@pytest.fixture
def providers(db):
    for i, name in enumerate(["groq", "gemini", "deepseek"]):
        ProviderHealth.objects.create(name=name, priority=i)


@pytest.fixture
def sync_q(settings, monkeypatch):
    from django_q.conf import Conf

    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}
    monkeypatch.setattr(Conf, "SYNC", True)


def escalation(proposal=None) -> Escalation:
    now = timezone.now()
    return Escalation.objects.create(
        number=7, trigger="all_failed", reason="every provider failed the request",
        proposal=proposal, opened_at=now, first_seen_at=now, last_seen_at=now,
    )  # fmt: skip


def voting(**fields) -> Proposal:
    return services.proposal_create(
        title="Fix it", proposed_by="agent:a", open_voting=True, **fields
    )


def test_the_escalation_page_resolves_it_with_its_own_button(staff):
    proposal = voting()
    esc = escalation(proposal)
    url = f"/admin/llmfallback/escalation/{esc.pk}/change/"
    page = staff.get(url).content.decode()
    resolve = f"/admin/llmfallback/escalation/{esc.pk}/resolve/"
    assert f'action="{resolve}"' in page and ">Resolve</button>" in page
    assert staff.get(resolve).status_code == 405  # a POST only
    r = staff.post(resolve, follow=True)
    assert r.redirect_chain[-1][0] == url
    assert "Resolved escalation #7." in r.content.decode()
    esc.refresh_from_db()
    assert esc.status == "resolved"
    entry = AuditEntry.objects.get(action="escalation_resolve")
    assert (entry.actor, entry.target, entry.note) == (
        "user:alice",
        "escalation #7",
        f"proposal {proposal.code}",
    )
    assert f'action="{resolve}"' not in staff.get(url).content.decode()  # closed: no button
    r = staff.post(resolve, follow=True)
    assert "already closed" in r.content.decode()
    assert AuditEntry.objects.filter(action="escalation_resolve").count() == 1


def test_approving_and_rejecting_leave_audit_entries_naming_the_proposal(staff):
    approved, rejected = voting(), voting()
    staff.post(f"/admin/congress/proposal/{approved.pk}/transition/", {"to": "approved"})
    staff.post(
        f"/admin/congress/proposal/{rejected.pk}/transition/", {"to": "rejected", "note": "no"}
    )
    entries = list(AuditEntry.objects.order_by("id").values_list("actor", "action", "target"))
    assert entries == [
        ("user:alice", "proposal_approved", approved.code),
        ("user:alice", "proposal_rejected", rejected.code),
    ]
    assert AuditEntry.objects.get(action="proposal_rejected").note == "Fix it · no"


def test_a_remedys_audit_entry_names_its_proposal(
    staff, sync_q, providers, django_capture_on_commit_callbacks
):
    proposal = voting(remedy="provider_demote", remedy_args={"provider": "groq"})
    with django_capture_on_commit_callbacks(execute=True):
        staff.post(f"/admin/congress/proposal/{proposal.pk}/transition/", {"to": "approved"})
    entry = AuditEntry.objects.get(action="provider_demote")
    assert entry.note == f"remedy of proposal {proposal.code}"
    assert entry.actor == "user:alice"


def test_the_proposal_description_is_rendered_markdown_with_html_removed(staff):
    proposal = voting(
        description=(
            "## What failed\n\n| provider | error |\n|---|---|\n| groq | `rate_limit` |\n\n"
            '<script>alert(1)</script> <img src=x onerror="alert(2)"> '
            "[a link](javascript:alert(3)) **bold**"
        )
    )
    page = staff.get(f"/admin/congress/proposal/{proposal.pk}/change/").content.decode()
    body = page[page.index('class="markdown"') :]
    body = body[: body.index("</div>")]
    assert "<h2>What failed</h2>" in body
    assert "<table>" in body and "<td>groq</td>" in body and "<code>rate_limit</code>" in body
    assert "<strong>bold</strong>" in body
    # raw HTML stays visible text, never markup; a javascript: link is no link
    assert "<script" not in body and "<img" not in body and 'href="javascript' not in body
    assert "&lt;script&gt;" in body
    assert "|---|" not in body and "## " not in body


def test_a_remedys_result_reads_as_text():
    from congress.remedies_run import changes_text

    demoted = {"provider": "groq", "before": {"priority": 0}, "after": {"priority": 3}}
    assert changes_text(demoted) == "provider groq; priority 0 → 3"
    assert (
        changes_text({"provider": "groq", "was_blocked": True}) == "provider groq; was_blocked yes"
    )
    assert changes_text({"name": "n", "before": 10, "after": 20}) == "name n; 10 → 20"
