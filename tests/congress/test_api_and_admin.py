"""The Congress as agents (bearer keys) and staff (the admin) use it."""

import pytest
from django.contrib.auth.models import User

from congress import services
from congress.models import Proposal

pytestmark = pytest.mark.django_db

LIST = "/api/congress/proposals"


def detail(code: str, tail: str = "") -> str:
    return f"{LIST}/{code}{tail}"


def test_an_agent_files_a_proposal_and_reads_it_with_its_tally(agent):
    r = agent.post(
        LIST,
        {
            "title": "Add a provider",
            "category": "technology_adoption",
            "priority": 2,
            "tags": ["llm"],
            "open_voting": True,
        },
        format="json",
    )
    assert r.status_code == 201, r.json()
    code = r.json()["code"]
    assert code.startswith("PROP-") and len(code) == 13
    body = agent.get(detail(code)).json()
    assert body["proposed_by"] == "agent:test-agent"
    assert body["status"] == "voting"
    assert body["tally"]["voters"] == 0


def test_bad_input_is_a_400_with_field_errors(agent):
    r = agent.post(
        LIST, {"title": "", "priority": 9, "category": "magic", "remedy": "nope"}, format="json"
    )
    assert r.status_code == 400
    assert {"title", "priority", "category", "remedy"} <= r.json().keys()


def test_proposals_filter_by_status_category_and_priority(agent):
    services.proposal_create(title="a", proposed_by="x", category="monetization", priority=1)
    services.proposal_create(title="b", proposed_by="x", open_voting=True, priority=5)
    assert [p["title"] for p in agent.get(LIST, {"status": "voting"}).json()["results"]] == ["b"]
    assert [
        p["title"] for p in agent.get(LIST, {"category": "monetization"}).json()["results"]
    ] == ["a"]
    assert [p["title"] for p in agent.get(LIST, {"priority": 5}).json()["results"]] == ["b"]
    assert agent.get(LIST, {"status": "bogus"}).status_code == 400


def test_an_agent_casts_then_changes_its_vote(agent):
    proposal = services.proposal_create(title="a", proposed_by="x", open_voting=True)
    r = agent.post(
        detail(proposal.code, "/votes"), {"choice": "yes", "reason": "good"}, format="json"
    )
    assert r.status_code == 201 and r.json()["tally"]["yes"] == 1
    r = agent.post(detail(proposal.code, "/votes"), {"choice": "no"}, format="json")
    assert r.status_code == 200 and r.json()["tally"] | {} == r.json()["tally"]
    assert r.json()["tally"]["yes"] == 0 and r.json()["tally"]["no"] == 1


def test_voting_on_a_closed_proposal_is_a_409(agent):
    proposal = services.proposal_create(title="a", proposed_by="x")
    assert (
        agent.post(detail(proposal.code, "/votes"), {"choice": "yes"}, format="json").status_code
        == 409
    )


def test_an_unknown_proposal_is_a_404(agent):
    assert agent.get(detail("PROP-00000000")).status_code == 404
    assert (
        agent.post(detail("PROP-00000000", "/votes"), {"choice": "yes"}, format="json").status_code
        == 404
    )


def test_an_operator_moves_a_proposal_and_an_illegal_move_is_a_409(operator):
    proposal = services.proposal_create(title="a", proposed_by="x")
    r = operator.post(detail(proposal.code, "/transition"), {"to": "submitted"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "submitted"
    r = operator.post(detail(proposal.code, "/transition"), {"to": "approved"}, format="json")
    assert r.status_code == 409
    assert (
        r.json()["status"] == "submitted"
        and "cannot go from 'submitted' to 'approved'" in r.json()["detail"]
    )


def test_a_plain_agent_cannot_change_a_status(agent):
    proposal = services.proposal_create(title="a", proposed_by="x")
    assert (
        agent.post(
            detail(proposal.code, "/transition"), {"to": "submitted"}, format="json"
        ).status_code
        == 403
    )


def test_the_api_needs_a_key(client):
    assert client.get(LIST).status_code in (401, 403)


@pytest.fixture
def staff(client):
    user = User.objects.create_superuser("alice", "a@example.com", "pw-pw-pw-pw")
    client.force_login(user)
    return client


def admin_action(client, action: str, *proposals):
    return client.post(
        "/admin/congress/proposal/",
        {"action": action, "_selected_action": [p.pk for p in proposals]},
        follow=True,
    )


def test_admin_actions_move_proposals_and_report_counts(staff):
    a = services.proposal_create(title="a", proposed_by="x")
    b = services.proposal_create(title="b", proposed_by="x", open_voting=True)
    r = admin_action(staff, "submit", a, b)
    texts = [str(m) for m in r.context["messages"]]
    assert "Moved 1 proposal(s) to submitted." in texts
    assert any(t.startswith("Refused:") and b.code in t for t in texts)
    assert Proposal.objects.get(pk=a.pk).status == "submitted"


def test_admin_open_voting_approve_and_archive(staff):
    p = services.proposal_create(title="a", proposed_by="x")
    for action, status in [
        ("submit", "submitted"),
        ("start_review", "under_review"),
        ("open_voting", "voting"),
        ("approve", "approved"),
        ("mark_implemented", "implemented"),
        ("archive", "archived"),
    ]:
        admin_action(staff, action, p)
        assert Proposal.objects.get(pk=p.pk).status == status
    q = services.proposal_create(title="b", proposed_by="x", open_voting=True)
    admin_action(staff, "reject", q)
    assert Proposal.objects.get(pk=q.pk).decided_by == "user:alice"


def test_admin_casts_the_signed_in_users_vote(staff):
    p = services.proposal_create(title="a", proposed_by="x", open_voting=True)
    r = admin_action(staff, "vote_yes", p)
    assert "Voted yes on 1 proposal(s)." in [str(m) for m in r.context["messages"]]
    admin_action(staff, "vote_abstain", p)
    assert [(v.voter, v.choice) for v in p.votes.all()] == [("user:alice", "abstain")]
    page = staff.get(f"/admin/congress/proposal/{p.pk}/change/")
    assert page.status_code == 200 and b"user:alice" in page.content


def test_admin_lists_with_filters(staff):
    services.proposal_create(title="a", proposed_by="x", priority=1)
    r = staff.get(
        "/admin/congress/proposal/",
        {"status__exact": "draft", "priority__exact": 1, "category__exact": "technical"},
    )
    assert r.status_code == 200 and b"PROP-" in r.content
