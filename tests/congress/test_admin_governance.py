"""Governing from the admin: the proposal page's tally and buttons, read-only fields once voting
opens, remedies checked as the API checks them, failures shown with a retry, voters' weights.
"""

import re

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from congress import services, votes
from congress.models import Proposal, Voter
from llmfallback.models import AuditEntry, Escalation, EscalationEvent, ProviderHealth

pytestmark = pytest.mark.django_db


@pytest.fixture
def sync_q(settings, monkeypatch):
    """django-q2 runs tasks inline; its Conf reads Q_CLUSTER once at import, so patch it too."""
    from django_q.conf import Conf

    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}
    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture
def providers(db):
    for i, name in enumerate(["groq", "gemini", "deepseek"]):
        ProviderHealth.objects.create(name=name, priority=i)


@pytest.fixture
def staff(client):
    user = User.objects.create_superuser("alice", "a@example.com", "pw-pw-pw-pw")
    client.force_login(user)
    return client


def page(proposal) -> str:
    return f"/admin/congress/proposal/{proposal.pk}/change/"


def act(proposal, name: str) -> str:
    return f"/admin/congress/proposal/{proposal.pk}/{name}/"


def html(response) -> str:
    return " ".join(response.content.decode().split())


def buttons(content: str, form: str) -> list[str]:
    """The values of the buttons inside the form posting to `form` (vote / transition / retry)."""
    found = re.search(rf'action="[^"]*/{form}/".*?</form>', content)
    return re.findall(r'<button[^>]*value="([^"]+)"', found.group(0)) if found else []


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def voting(**fields) -> Proposal:
    return services.proposal_create(
        title="Fix it", proposed_by="agent:a", open_voting=True, **fields
    )


def test_the_page_shows_the_weighted_tally_rule_deadline_and_outcome(staff):
    proposal = voting(quorum=3, voting_rule="supermajority")
    Voter.objects.create(name="agent:b", weight=2.5)
    votes.vote_cast(proposal=proposal, voter="agent:a", choice="yes")
    votes.vote_cast(proposal=proposal, voter="agent:b", choice="yes")
    votes.vote_cast(proposal=proposal, voter="agent:c", choice="abstain")
    content = html(staff.get(page(proposal)))
    assert 'data-testid="yes">3.5<' in content and 'data-testid="no">0<' in content
    assert 'data-testid="abstain">1<' in content
    assert "Quorum: 2 of 3 voters" in content and 'value="67"' in content
    assert "supermajority: more than two thirds" in content
    assert timezone.localtime(proposal.voting_deadline).strftime("%Y-%m-%d %H:%M") in content
    assert re.search(r'data-testid="outcome"[^>]*>rejected \(quorum not met\)', content)


def test_only_the_transitions_the_lifecycle_allows_now_are_buttons(staff):
    draft = services.proposal_create(title="a", proposed_by="x")
    assert buttons(html(staff.get(page(draft))), "transition") == ["submitted", "archived"]
    open_ = voting()
    assert buttons(html(staff.get(page(open_))), "transition") == [
        "approved",
        "rejected",
        "archived",
    ]
    assert buttons(html(staff.get(page(open_))), "vote") == ["yes", "no", "abstain"]
    assert buttons(html(staff.get(page(draft))), "vote") == []  # not open for voting
    services.proposal_transition(proposal=open_, to="archived", by="user:alice")
    assert buttons(html(staff.get(page(open_))), "transition") == []


def test_a_transition_button_moves_it_as_the_signed_in_user_and_refuses_illegal_moves(staff):
    proposal = voting()
    r = staff.post(act(proposal, "transition"), {"to": "rejected", "note": "not now"})
    assert r.status_code == 302
    proposal.refresh_from_db()
    assert (proposal.status, proposal.decided_by, proposal.rejection_note) == (
        "rejected",
        "user:alice",
        "not now",
    )
    r = staff.post(act(proposal, "transition"), {"to": "approved"}, follow=True)
    assert any("cannot go from 'rejected' to 'approved'" in m for m in messages_of(r))
    assert Proposal.objects.get(pk=proposal.pk).status == "rejected"


def test_voting_records_the_staff_user_with_its_voter_weight_and_reason(staff):
    proposal = voting()
    Voter.objects.create(name="user:alice", weight=4)
    r = staff.post(act(proposal, "vote"), {"choice": "no", "reason": "too risky", "weight": 10})
    assert r.status_code == 302
    vote = proposal.votes.get()
    assert (vote.voter, vote.choice, vote.weight, vote.reason) == (
        "user:alice",
        "no",
        4,
        "too risky",
    )
    content = html(staff.get(page(proposal)))
    assert "too risky" in content and 'data-testid="no">4<' in content
    assert "You voted no." in content


def test_the_vote_and_transition_views_need_post_and_csrf(staff):
    proposal = voting()
    assert staff.get(act(proposal, "vote")).status_code == 405
    csrf_client = staff.__class__(enforce_csrf_checks=True)
    csrf_client.force_login(User.objects.get(username="alice"))
    assert csrf_client.post(act(proposal, "vote"), {"choice": "yes"}).status_code == 403
    assert not proposal.votes.exists()


def test_a_malformed_or_unknown_id_is_a_404(staff):
    assert staff.post("/admin/congress/proposal/abc/vote/", {"choice": "yes"}).status_code == 404
    assert staff.post("/admin/congress/proposal/999/transition/", {"to": "x"}).status_code == 404


def test_voting_on_a_closed_proposal_says_why(staff):
    proposal = services.proposal_create(title="a", proposed_by="x")
    r = staff.post(act(proposal, "vote"), {"choice": "yes"}, follow=True)
    assert any("closed" in m for m in messages_of(r)) and not proposal.votes.exists()


def test_title_remedy_and_voting_fields_are_read_only_once_voting_opens(staff, providers):
    proposal = voting(remedy="provider_demote", remedy_args={"provider": "groq"})
    before = Proposal.objects.filter(pk=proposal.pk).values().get()
    r = staff.post(
        page(proposal),
        {
            "title": "Something else",
            "description": "changed",
            "category": "technical",
            "priority": 2,
            "tags": "[]",
            "remedy": "provider_disable",
            "remedy_args": '{"provider": "gemini"}',
            "voting_rule": "simple",
            "quorum": 0,
            "electorate": 1,
            "voting_deadline_0": "2030-01-01",
            "voting_deadline_1": "00:00:00",
            "status": "approved",
            "votes-TOTAL_FORMS": 0,
            "votes-INITIAL_FORMS": 0,
        },
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    after = Proposal.objects.filter(pk=proposal.pk).values().get()
    assert {k: v for k, v in after.items() if k != "priority"} == {
        k: v for k, v in before.items() if k != "priority"
    }
    assert after["priority"] == 2  # what stays editable does change
    form = html(staff.get(page(proposal)))
    assert 'name="title"' not in form and 'name="remedy_args"' not in form


def test_a_draft_stays_editable_without_touching_its_status(staff):
    draft = services.proposal_create(title="a", proposed_by="x")
    r = staff.post(page(draft), _form(title="Better title", status="approved"))
    assert r.status_code == 302
    draft.refresh_from_db()
    assert (draft.title, draft.status) == ("Better title", "draft")


def _form(**fields) -> dict:
    base = {
        "title": "Fix it",
        "description": "",
        "category": "technical",
        "priority": 3,
        "tags": "[]",
        "remedy": "",
        "remedy_args": "{}",
        "voting_rule": "simple",
        "quorum": "",
        "electorate": "",
        "votes-TOTAL_FORMS": 0,
        "votes-INITIAL_FORMS": 0,
    }
    return base | fields


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"remedy_args": '{"provider": "nope"}'}, "remedy_args", "No provider named 'nope'"),
        ({"remedy_args": '{"providr": "groq"}'}, "remedy_args", "Arguments do not fit"),
        ({"remedy_args": "[1]"}, "remedy_args", "JSON object"),
        ({"tags": '{"a": 1}'}, "tags", "JSON list"),
        ({"quorum": 1}, None, "quorum of at least 3"),
        ({"electorate": 2}, None, "electorate of at least 3"),
    ],
)
def test_adding_a_proposal_checks_the_remedy_as_the_api_does(
    staff, providers, fields, field, reason
):
    data = _form(remedy="provider_disable", remedy_args='{"provider": "groq"}') | fields
    r = staff.post("/admin/congress/proposal/add/", data)
    assert r.status_code == 200 and not Proposal.objects.exists()
    errors = r.context["adminform"].form.errors
    assert reason in " ".join(errors[field or "__all__"])


def test_a_threshold_that_would_not_raise_anything_is_a_form_error(staff):
    data = _form(
        remedy="threshold_raise", remedy_args='{"name": "congress_threshold_failures", "value": 1}'
    )
    r = staff.post("/admin/congress/proposal/add/", data)
    assert "would not raise it" in " ".join(r.context["adminform"].form.errors["remedy_args"])


def test_a_proposal_added_in_the_admin_is_filed_by_the_service(staff, providers):
    data = _form(remedy="provider_demote", remedy_args='{"provider": "groq"}')
    r = staff.post("/admin/congress/proposal/add/", data)
    assert r.status_code == 302
    proposal = Proposal.objects.get()
    assert proposal.proposed_by == "user:alice" and proposal.quorum == 3  # the remedy's bound
    assert proposal.status == "draft"


def test_a_failed_remedy_shows_its_reason_and_the_retry_carries_it_out(
    staff, sync_q, providers, django_capture_on_commit_callbacks
):
    proposal = voting(remedy="provider_demote", remedy_args={"provider": "groq"})
    ProviderHealth.objects.filter(name="groq").delete()  # the remedy will fail
    with django_capture_on_commit_callbacks(execute=True):
        staff.post(act(proposal, "transition"), {"to": "approved"})
    proposal.refresh_from_db()
    assert proposal.status == "approved" and "groq" in proposal.remedy_error
    content = html(staff.get(page(proposal)))
    failure = content[content.index('data-testid="remedy-failure"') :]
    assert proposal.remedy_error.split(":")[0] in failure
    assert "Attempts</dt><dd>1<" in failure.replace(" ", "")
    assert "Retry the remedy" in content
    dashboard = html(staff.get("/dashboard/llm"))
    assert "Remedies that failed" in dashboard and page(proposal) in dashboard

    ProviderHealth.objects.create(name="groq", priority=0)  # fixed by hand
    with django_capture_on_commit_callbacks(execute=True):
        r = staff.post(act(proposal, "retry"), follow=True)
    assert "The remedy was queued again." in messages_of(r)
    proposal.refresh_from_db()
    assert proposal.status == "implemented" and proposal.remedy_attempts == 2
    assert proposal.remedy_error == ""
    assert AuditEntry.objects.get(action="provider_demote").actor == "user:alice"
    assert "Remedies that failed" not in html(staff.get("/dashboard/llm"))


def test_retry_is_refused_unless_approved(staff, providers):
    proposal = voting(remedy="provider_demote", remedy_args={"provider": "groq"})
    r = staff.post(act(proposal, "retry"), follow=True)
    assert "Only an approved proposal's remedy can be retried." in messages_of(r)


def test_the_list_actions_still_report_counts(staff):
    proposal = voting()
    r = staff.post(
        "/admin/congress/proposal/",
        {"action": "vote_yes", "_selected_action": [proposal.pk]},
        follow=True,
    )
    assert "Voted yes on 1 proposal(s)." in messages_of(r)
    r = staff.post(
        "/admin/congress/proposal/",
        {"action": "remedy_retry", "_selected_action": [proposal.pk]},
        follow=True,
    )
    assert "Queued 0 remedy(ies) again." in messages_of(r)


def test_staff_set_a_voters_weight_and_it_records_who(staff):
    r = staff.post(
        "/admin/congress/voter/add/", {"name": "agent:bot", "weight": 3, "note": "trusted"}
    )
    assert r.status_code == 302
    voter = Voter.objects.get()
    assert (voter.weight, voter.note, voter.updated_by) == (3, "trusted", "user:alice")
    r = staff.post("/admin/congress/voter/add/", {"name": "bot", "weight": 99})
    assert set(r.context["adminform"].form.errors) == {"name", "weight"}


def test_proposal_and_escalation_link_to_each_other(staff):
    proposal = voting()
    now = timezone.now()
    esc = Escalation.objects.create(
        number=4,
        trigger="all_failed",
        reason="Every provider failed",
        proposal=proposal,
        opened_at=now,
        first_seen_at=now,
        last_seen_at=now,
    )
    esc_url = f"/admin/llmfallback/escalation/{esc.pk}/change/"
    assert f'href="{esc_url}"' in html(staff.get(page(proposal)))
    assert f'href="{page(proposal)}"' in html(staff.get(esc_url))


def test_the_escalation_page_shows_tables_not_json(staff):
    now = timezone.now()
    esc = Escalation.objects.create(
        number=5,
        trigger="all_failed",
        reason="Every provider failed",
        opened_at=now,
        first_seen_at=now,
        last_seen_at=now,
        context="nightly-report",
        messages=[{"role": "user", "content": "summarise the secret plan"}],
        provider_status={
            "groq": {
                "is_available": False,
                "in_cooldown": True,
                "cooldown_until": "2030-01-01T00:00:00+00:00",
                "consecutive_failures": 4,
                "last_error": "429 slow down",
                "error_type": "rate_limit",
            }
        },
        error_history=[
            {
                "timestamp": "2030-01-01T00:00:00+00:00",
                "provider": "groq",
                "key": "k1",
                "error_type": "rate_limit",
                "status": 429,
                "message": "slow down",
                "latency_ms": 12.5,
            }
        ],
    )
    EscalationEvent.objects.create(
        escalation=esc,
        created_at=now,
        kind="failure",
        detail={
            "all_failed": True,
            "attempts": [{"provider": "groq", "error_type": "rate_limit", "status": 429}],
        },
    )
    content = html(staff.get(f"/admin/llmfallback/escalation/{esc.pk}/change/"))
    snapshot = content[content.index('id="provider-snapshot"') :]
    assert "<td>groq</td><td>no</td><td>yes</td>" in snapshot
    assert "<td>rate_limit</td><td>429</td><td>12.5</td>" in content
    assert "attempts: groq rate_limit HTTP 429" in content
    assert "summarise the secret plan" in content and "nightly-report" in content
    assert '{"groq"' not in content and "&quot;groq&quot;" not in content
    assert "Please correct" not in content  # nothing on the page looks like a form error


def test_the_governing_panels_speak_spanish(staff):
    proposal = voting()
    content = html(staff.get(page(proposal), HTTP_ACCEPT_LANGUAGE="es"))
    assert "Recuento" in content and "Votar sí" in content and "Aprobar" in content
    assert "Quórum: 0 de 1 votantes" in content
    r = staff.post(act(proposal, "vote"), {"choice": "yes"}, HTTP_ACCEPT_LANGUAGE="es", follow=True)
    assert "Votaste sí." in messages_of(r)


def test_an_agent_reading_an_escalation_never_gets_the_triggering_messages(rf):
    from llmfallback.admin.escalation import escalation_tables
    from llmfallback.models import AgentKey

    now = timezone.now()
    esc = Escalation.objects.create(
        number=9,
        trigger="all_failed",
        reason="r",
        opened_at=now,
        first_seen_at=now,
        last_seen_at=now,
        context="ctx",
        messages=[{"role": "user", "content": "private prompt"}],
    )
    request = rf.get("/")
    request.user = AgentKey(name="bot", prefix="x", key_hash="h", is_operator=False)
    tables = escalation_tables(request, esc)
    assert tables["messages_"] == [] and tables["context_"] == "" and not tables["show_detail"]
    request.user = AgentKey(name="ops", prefix="y", key_hash="i", is_operator=True)
    assert escalation_tables(request, esc)["messages_"][0]["content"] == "private prompt"
