"""An escalation's triggering messages are other agents' prompts: operators and staff only."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from llmfallback.access import agent_keys
from llmfallback.models import Escalation

pytestmark = pytest.mark.django_db

CHAT = "/api/llm/chat"
PROMPT = "alice-private-prompt-about-acme-merger"
CONTEXT = "alice-private-context-7f3c"
METADATA = {
    "id", "number", "status", "trigger", "reason", "providers", "opened_at", "first_seen_at",
    "last_seen_at", "closed_at", "failed_requests", "failures", "proposal_code",
    "proposal_status", "file_name", "file_host", "timeline", "timeline_total",
    "timeline_next_offset",
}  # fmt: skip
PRIVATE = {"messages", "context", "provider_status", "error_history", "proposal_description"}


def key_client(name: str, *, operator: bool = False) -> APIClient:
    _, raw = agent_keys.agent_key_create(name=name, operator=operator)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def session_client(*, staff: bool) -> APIClient:
    user = User.objects.create_user("staff" if staff else "visitor", password="pw", is_staff=staff)
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def escalation(sim, use_providers) -> Escalation:
    """Every provider fails a private request of agent alice, which escalates to the Congress."""
    for name in ("groq", "gemini", "deepseek"):
        sim.script(name, [{"behavior": "unavailable", "times": -1}])
    body = {"messages": [{"role": "user", "content": PROMPT}], "context": CONTEXT}
    assert key_client("alice").post(CHAT, body, format="json").status_code == 503
    return Escalation.objects.get()


def detail(client: APIClient, escalation: Escalation) -> dict:
    r = client.get(f"/api/llm/escalations/{escalation.pk}")
    assert r.status_code == 200
    return r.json()


@pytest.mark.parametrize("who", ["operator key", "staff user"])
def test_operators_and_staff_read_the_triggering_messages_and_context(escalation, who):
    client = (
        key_client("ops", operator=True) if who == "operator key" else session_client(staff=True)
    )
    body = detail(client, escalation)
    assert body["messages"] == [{"role": "user", "content": PROMPT}]
    assert body["context"] == CONTEXT
    assert PRIVATE <= body.keys()
    assert body["timeline"][0]["kind"] == "opened" and "detail" in body["timeline"][0]


@pytest.mark.parametrize("who", ["another agent", "the same agent", "non-staff user"])
def test_agents_see_only_the_metadata_of_an_escalation(escalation, who):
    client = {
        "another agent": lambda: key_client("bob"),
        "the same agent": lambda: key_client("alice-again"),
        "non-staff user": lambda: session_client(staff=False),
    }[who]()
    r = client.get(f"/api/llm/escalations/{escalation.pk}")
    body = r.json()
    assert body.keys() == METADATA
    assert body["proposal_code"] == escalation.proposal.code
    assert body["failed_requests"] == 1 and body["trigger"] == escalation.trigger
    assert [ev.keys() for ev in body["timeline"]] == [{"at", "kind", "count", "last_at"}]
    assert PROMPT not in r.content.decode() and CONTEXT not in r.content.decode()


def test_the_escalation_list_never_carries_messages(escalation):
    r = key_client("bob").get("/api/llm/escalations")
    assert [e["id"] for e in r.json()["results"]] == [escalation.pk]
    assert PROMPT not in r.content.decode() and CONTEXT not in r.content.decode()


def test_a_503_never_carries_another_agents_messages(escalation):
    """Bob's request joins the escalation alice's opened: he learns its ids, not her prompt."""
    r = key_client("bob").post(
        CHAT, {"messages": [{"role": "user", "content": "hi"}]}, format="json"
    )
    assert r.status_code == 503
    body = r.json()
    assert body["escalated_to_congress"] is True
    assert body["escalation_id"] == escalation.pk
    assert body["proposal_code"] == escalation.proposal.code
    assert PROMPT not in r.content.decode() and CONTEXT not in r.content.decode()
    assert not PRIVATE & body.keys()


def test_the_503_that_opens_an_escalation_does_not_echo_the_messages_either(sim, use_providers):
    for name in ("groq", "gemini", "deepseek"):
        sim.script(name, [{"behavior": "unavailable", "times": -1}])
    body = {"messages": [{"role": "user", "content": PROMPT}], "context": CONTEXT}
    r = key_client("alice").post(CHAT, body, format="json")
    assert r.status_code == 503 and r.json()["escalated_to_congress"] is True
    assert PROMPT not in r.content.decode() and CONTEXT not in r.content.decode()
