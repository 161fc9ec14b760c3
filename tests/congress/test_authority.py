"""Authority: no single agent key can get a remedy carried out; weights come from voters' records."""

import datetime as dt
import itertools

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from congress.lifecycle import Status
from congress.models import Proposal, Voter
from congress.voting import Rule
from llmfallback.access import agent_keys
from llmfallback.models import AuditEntry, ProviderHealth, SettingOverride

LIST = "/api/congress/proposals"
REMEDIES = [
    ("provider_disable", {"provider": "groq"}),
    ("provider_demote", {"provider": "groq"}),
    ("provider_cooldown_reset", {"provider": "groq"}),
    ("threshold_raise", {"name": "congress_threshold_failures", "value": 99}),
]
REMEDY_ACTIONS = ["provider_disable", "provider_demote", "provider_reset", "threshold_set"]


@pytest.fixture
def sync_q(settings, monkeypatch):
    from django_q.conf import Conf

    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}
    monkeypatch.setattr(Conf, "SYNC", True)


def key_client(name: str, operator: bool = False) -> APIClient:
    _, raw = agent_keys.agent_key_create(name=name, operator=operator)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def providers():
    for i, name in enumerate(["groq", "gemini", "deepseek"]):
        ProviderHealth.objects.get_or_create(name=name, defaults={"priority": i})


def remedies_run() -> int:
    return AuditEntry.objects.filter(action__in=REMEDY_ACTIONS).count()


def file(client, remedy=REMEDIES[0], **fields):
    body = {"title": "Fix groq", "remedy": remedy[0], "remedy_args": remedy[1], "open_voting": True}
    return client.post(LIST, body | fields, format="json")


@pytest.mark.same_on_any_database
@pytest.mark.django_db(transaction=True)
def test_no_sequence_of_one_agent_keys_calls_gets_a_remedy_carried_out(sync_q):
    """Every sequence, exhaustively: with one key, a transition changes nothing (403), a vote
    only replaces the key's one vote, and a read only closes voting past its deadline. So every
    filing a key can make, followed by every pair of votes and a read after the deadline, covers
    every state one key can reach. None runs a remedy.
    """
    providers()
    agent = key_client("lone-agent")
    # The remedy's kind plays no part in who may approve it: one stands for all four.
    filings = itertools.product(
        [None, 0, 1, 2, 3],  # quorum
        [None, 1, 2, 3],  # electorate
        list(Rule),
        [True, False],  # open_voting
        [None, -60, 60],  # voting deadline, seconds from now
    )
    filed = 0
    for quorum, electorate, rule_, open_voting, deadline in filings:
        fields = {"voting_rule": rule_.value, "open_voting": open_voting}
        fields |= {"quorum": quorum} if quorum is not None else {}
        fields |= {"electorate": electorate} if electorate is not None else {}
        if deadline is not None:
            fields["voting_deadline"] = (
                timezone.now() + dt.timedelta(seconds=deadline)
            ).isoformat()
        for i, votes in enumerate(itertools.product(["yes", "no", "abstain"], repeat=2)):
            r = file(agent, **fields)
            if r.status_code == 400:
                break  # refused: below the bounds; nothing was filed
            filed += 1
            code = r.json()["code"]
            for to in Status if i == 0 else ():
                r = agent.post(f"{LIST}/{code}/transition", {"to": to}, format="json")
                assert r.status_code == 403
            for choice in votes:
                agent.post(f"{LIST}/{code}/votes", {"choice": choice}, format="json")
            with time_machine.travel(timezone.now() + dt.timedelta(days=2)):
                agent.get(f"{LIST}/{code}")  # past any deadline: the tally decides
            assert remedies_run() == 0, (fields, votes)
            assert not Proposal.objects.filter(
                code=code, status__in=["approved", "implemented"]
            ).exists()
    assert filed > 500  # the bounds let a key file; it just cannot carry a remedy out alone
    assert ProviderHealth.objects.get(name="groq").is_enabled
    assert not SettingOverride.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_three_distinct_agents_voting_yes_do_get_it_carried_out(sync_q):
    """The control for the test above: the same calls from enough voters work."""
    providers()
    agents = [key_client(f"agent-{i}") for i in range(3)]
    code = file(agents[0], electorate=3).json()["code"]
    for client in agents:
        client.post(f"{LIST}/{code}/votes", {"choice": "yes"}, format="json")
    assert Proposal.objects.get(code=code).status == "implemented"
    assert ProviderHealth.objects.get(name="groq").is_enabled is False


@pytest.mark.django_db
def test_a_vote_weighs_what_the_voters_record_says_never_what_the_request_asks(agent):
    providers()
    code = file(agent).json()["code"]
    r = agent.post(f"{LIST}/{code}/votes", {"choice": "yes", "weight": 10}, format="json")
    assert r.status_code == 400 and "voter's record" in r.json()["weight"][0]
    Voter.objects.create(name="agent:test-agent", weight=2.5)
    body = agent.post(f"{LIST}/{code}/votes", {"choice": "yes"}, format="json").json()
    assert body["tally"]["yes"] == 2.5


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields, reason",
    [
        ({"quorum": 1}, "quorum of at least 3"),
        ({"electorate": 1}, "electorate of at least 3"),
        ({"remedy_args": {"provider": "nope"}}, "No provider named 'nope'"),
        (
            {"remedy_args": {"name": "congress_threshold_failures", "value": 2}},
            "would not raise it",
        ),
        ({"remedy_args": {"provider": "groq", "extra": 1}}, "do not fit"),
    ],
)
def test_a_remedy_proposal_is_checked_when_filed(agent, fields, reason):
    providers()
    remedy = "threshold_raise" if "name" in fields.get("remedy_args", {}) else "provider_disable"
    fields = dict(fields)
    r = file(agent, (remedy, fields.pop("remedy_args", {"provider": "groq"})), **fields)
    assert r.status_code == 400
    assert reason in r.json()["detail"]
    assert not Proposal.objects.exists()


@pytest.mark.django_db
def test_disabling_the_last_enabled_provider_is_refused_when_filed(operator):
    providers()
    ProviderHealth.objects.exclude(name="groq").update(is_enabled=False)
    r = file(operator)
    assert r.status_code == 400 and "last enabled provider" in r.json()["detail"]


@pytest.mark.django_db
def test_a_remedy_proposal_gets_the_minimum_quorum_by_default(agent):
    providers()
    assert file(agent).json()["quorum"] == 3


@pytest.mark.django_db
def test_an_operator_approval_carries_out_a_remedy_after_commit(
    operator, sync_q, django_capture_on_commit_callbacks
):
    providers()
    code = file(operator).json()["code"]
    with django_capture_on_commit_callbacks(execute=True):
        r = operator.post(f"{LIST}/{code}/transition", {"to": "approved"}, format="json")
    assert r.status_code == 200
    assert Proposal.objects.get(code=code).status == "implemented"
    assert AuditEntry.objects.get(action="provider_disable").actor == "agent:test-operator"
