"""Voting through the service (deadline, early close, changing a vote) and remedies run by django-q2."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from congress import services, votes
from congress.models import Proposal
from llmfallback.models import AuditEntry, ProviderHealth, SettingOverride

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


def voting(**fields) -> Proposal:
    return services.proposal_create(
        title="Fix it", proposed_by="agent:a", open_voting=True, **fields
    )


def test_open_voting_walks_the_lifecycle_and_sets_a_deadline():
    proposal = voting()
    assert proposal.status == "voting"
    assert proposal.submitted_at and proposal.review_started_at and proposal.voting_opened_at
    assert proposal.voting_deadline > timezone.now()


def test_a_voter_changes_their_vote_instead_of_adding_one():
    proposal = voting()
    votes.vote_cast(proposal=proposal, voter="agent:a", choice="yes")
    vote, created = votes.vote_cast(
        proposal=proposal, voter="agent:a", choice="no", reason="changed my mind"
    )
    assert not created and vote.choice == "no"
    assert proposal.votes.count() == 1


def test_the_deadline_closes_voting_and_the_tally_decides():
    proposal = voting(quorum=2)
    votes.vote_cast(proposal=proposal, voter="agent:a", choice="yes")
    votes.vote_cast(proposal=proposal, voter="agent:b", choice="yes")
    with time_machine.travel(proposal.voting_deadline + dt.timedelta(seconds=1)):
        assert votes.voting_close_due() == 1
    proposal.refresh_from_db()
    assert proposal.status == "approved"
    assert proposal.decided_by.startswith("congress:tally")


def test_a_missed_quorum_rejects_at_the_deadline_with_a_note():
    proposal = voting(quorum=3)
    votes.vote_cast(proposal=proposal, voter="agent:a", choice="yes")
    with time_machine.travel(proposal.voting_deadline + dt.timedelta(seconds=1)):
        votes.voting_close_due()
    proposal.refresh_from_db()
    assert proposal.status == "rejected"
    assert "Quorum not met: 1 of 3" in proposal.rejection_note


def test_votes_after_the_deadline_are_refused():
    proposal = voting()
    with time_machine.travel(proposal.voting_deadline + dt.timedelta(seconds=1)):
        with pytest.raises(votes.VotingClosed):
            votes.vote_cast(proposal=proposal, voter="agent:a", choice="yes")
    assert Proposal.objects.get(pk=proposal.pk).status == "rejected"


def test_voting_closes_once_the_outcome_cannot_change():
    proposal = voting(electorate=2, voting_rule="unanimous")
    votes.vote_cast(proposal=proposal, voter="agent:a", choice="no")
    proposal.refresh_from_db()
    assert proposal.status == "rejected"


def test_an_approved_remedy_runs_in_a_task_after_commit_and_is_audited(
    sync_q, providers, django_capture_on_commit_callbacks
):
    proposal = voting(remedy="provider_disable", remedy_args={"provider": "groq"}, electorate=3)
    for voter in ("agent:a", "agent:b"):
        votes.vote_cast(proposal=proposal, voter=voter, choice="yes")
    with django_capture_on_commit_callbacks(execute=True) as queued:
        votes.vote_cast(proposal=proposal, voter="user:alice", choice="yes")  # settles
        assert ProviderHealth.objects.get(name="groq").is_enabled is True  # not before commit
    assert len(queued) == 1
    proposal.refresh_from_db()
    assert proposal.status == "implemented"
    assert "provider_disable" in proposal.resolution_note
    assert ProviderHealth.objects.get(name="groq").is_enabled is False
    entry = AuditEntry.objects.get(action="provider_disable")
    assert entry.actor.startswith("congress:tally") and entry.target == "groq"
    assert entry.before == {"is_enabled": True} and entry.after == {"is_enabled": False}


def test_a_person_approving_is_the_audited_actor(
    sync_q, providers, django_capture_on_commit_callbacks
):
    proposal = voting(remedy="provider_demote", remedy_args={"provider": "groq"})
    with django_capture_on_commit_callbacks(execute=True):
        services.proposal_transition(proposal=proposal, to="approved", by="user:alice")
    assert ProviderHealth.objects.get(name="groq").priority == 3
    entry = AuditEntry.objects.get(action="provider_demote")
    assert entry.actor == "user:alice" and entry.before == {"priority": 0}


def test_the_cooldown_reset_remedy_clears_a_cooldown(
    sync_q, providers, django_capture_on_commit_callbacks
):
    ProviderHealth.objects.filter(name="gemini").update(
        cooldown_until=timezone.now() + dt.timedelta(hours=1)
    )
    proposal = voting(remedy="provider_cooldown_reset", remedy_args={"provider": "gemini"})
    with django_capture_on_commit_callbacks(execute=True):
        services.proposal_transition(proposal=proposal, to="approved", by="user:alice")
    assert ProviderHealth.objects.get(name="gemini").cooldown_until is None
    assert Proposal.objects.get(pk=proposal.pk).status == "implemented"
    assert AuditEntry.objects.get(action="provider_reset").actor == "user:alice"


def test_the_threshold_remedy_changes_what_a_running_manager_reads(
    sync_q, settings, django_capture_on_commit_callbacks
):
    from llmfallback import FallbackConfig
    from llmfallback.escalation.triggers import thresholds_current

    config = FallbackConfig()  # made before the Congress decided: it must follow all the same
    proposal = voting(
        remedy="threshold_raise", remedy_args={"name": "congress_threshold_failures", "value": 40}
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.proposal_transition(proposal=proposal, to="approved", by="user:alice")
    assert SettingOverride.objects.get(name="congress_threshold_failures").value == 40
    assert thresholds_current(config).failures == 40
    assert AuditEntry.objects.get(action="threshold_set").before == {
        "value": settings.LLM_CONGRESS_THRESHOLD_FAILURES
    }


def test_an_unknown_remedy_is_refused_when_filing():
    from congress.remedies import UnknownRemedy

    with pytest.raises(UnknownRemedy):
        services.proposal_create(title="x", proposed_by="agent:a", remedy="reboot_the_internet")


def test_the_deadline_schedule_is_created_once():
    import importlib

    from django.apps import apps
    from django_q.models import Schedule

    migration = importlib.import_module("congress.migrations.0002_voting_close_schedule")
    migration.create_schedule(apps, None)
    migration.create_schedule(apps, None)
    assert Schedule.objects.filter(func="congress.tasks.voting_close_due", minutes=1).count() == 1
