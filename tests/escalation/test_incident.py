"""One incident, not a storm: attaching, recovering, and several processes failing at once."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command

from congress import services as congress
from llmfallback.models import Escalation

pytestmark = pytest.mark.django_db

CHAT = "/api/llm/chat"
HELLO = {"messages": [{"role": "user", "content": "hello"}]}
ALL = ("groq", "gemini", "deepseek")
ROOT = Path(__file__).resolve().parents[2]


def fail_all(sim):
    for name in ALL:
        sim.script(name, [{"behavior": "unavailable", "times": -1}])


def reset_all():
    from llmfallback import services

    for name in ALL:
        services.provider_cooldown_reset(name=name, by="test")


def test_later_failures_attach_to_the_open_escalation(agent, sim, use_providers):
    fail_all(sim)
    bodies = []
    for _ in range(3):
        bodies.append(agent.post(CHAT, HELLO, format="json").json())
        reset_all()
    escalation = Escalation.objects.get()
    assert {b["escalation_id"] for b in bodies} == {escalation.pk}
    assert escalation.failed_requests == 3
    assert escalation.last_seen_at > escalation.opened_at
    # The two later failures had one shape: one event counts them (escalation/timeline.py).
    assert [(e.kind, e.count) for e in escalation.events.all()] == [("opened", 1), ("failure", 2)]


def test_recovery_closes_the_escalation_and_its_proposal_with_a_note(agent, sim, use_providers):
    fail_all(sim)
    agent.post(CHAT, HELLO, format="json")
    agent.post(CHAT, HELLO, format="json")
    sim.reset()
    reset_all()
    assert agent.post(CHAT, HELLO, format="json").status_code == 200
    escalation = Escalation.objects.get()
    assert escalation.status == "recovered"
    assert escalation.proposal.status == "archived"
    assert "providers recovered at" in escalation.proposal.resolution_note
    assert "2 requests failed during the incident" in escalation.proposal.resolution_note


def test_recovery_leaves_a_decision_people_already_made(agent, sim, use_providers):
    fail_all(sim)
    agent.post(CHAT, HELLO, format="json")
    proposal = Escalation.objects.get().proposal
    congress.proposal_transition(
        proposal=proposal, to="rejected", by="user:alice", note="wait it out"
    )
    sim.reset()
    reset_all()
    agent.post(CHAT, HELLO, format="json")
    proposal.refresh_from_db()
    assert Escalation.objects.get().status == "recovered"
    assert proposal.status == "rejected" and proposal.resolution_note == ""


def test_a_new_escalation_opens_only_after_the_previous_is_resolved(agent, sim, use_providers):
    fail_all(sim)
    agent.post(CHAT, HELLO, format="json")
    sim.reset()
    reset_all()
    agent.post(CHAT, HELLO, format="json")  # recovers #1
    fail_all(sim)
    reset_all()
    body = agent.post(CHAT, HELLO, format="json").json()
    assert body["escalation_number"] == 2
    assert list(Escalation.objects.values_list("number", "status")) == [
        (2, "open"),
        (1, "recovered"),
    ]


def test_a_success_by_a_provider_not_blamed_does_not_recover(agent, sim, use_providers, settings):
    settings.LLM_CONGRESS_THRESHOLD_REPEATED_ERROR = 3
    sim.script("groq", [{"behavior": "unavailable", "times": -1}])
    agent.post(
        CHAT, HELLO, format="json"
    )  # gemini answers after groq's 3 failures: escalates, blames groq
    agent.post(CHAT, HELLO, format="json")  # groq cooling down, gemini answers
    assert Escalation.objects.get().status == "open"


def test_the_success_path_reads_the_cache_not_the_db_once_the_flag_is_set(
    agent, sim, use_providers, django_assert_num_queries
):
    from llmfallback.escalation.incidents import escalation_recover_check

    escalation_recover_check(provider="groq")  # sets the "none open" flag
    with django_assert_num_queries(0):
        assert escalation_recover_check(provider="groq") is False


def test_the_flag_is_refreshed_from_the_db_after_its_ttl(agent, sim, use_providers):
    from llmfallback.escalation.flag import FLAG_TTL_S
    from llmfallback.escalation.incidents import escalation_recover_check

    with time_machine.travel(0, tick=False) as traveller:
        escalation_recover_check(provider="groq")
        fail_all(sim)
        agent.post(CHAT, HELLO, format="json")  # opened here: this process's flag is set
        from llmfallback.escalation.flag import NONE_OPEN, flag_store

        flag_store(NONE_OPEN)  # stale: as if another process had opened it unseen
        assert escalation_recover_check(provider="groq") is False
        traveller.shift(FLAG_TTL_S + 1)
        assert escalation_recover_check(provider="groq") is True


def test_escalations_are_listed_and_read_through_the_api(agent, sim, use_providers):
    fail_all(sim)
    agent.post(CHAT, HELLO, format="json")
    escalation = Escalation.objects.get()
    listing = agent.get("/api/llm/escalations").json()["results"]
    assert [e["id"] for e in listing] == [escalation.pk]
    body = agent.get(f"/api/llm/escalations/{escalation.pk}").json()
    assert body["proposal_code"] == escalation.proposal.code
    assert body["timeline"][0]["kind"] == "opened"
    assert agent.get("/api/llm/escalations/999").status_code == 404


def test_the_escalation_admin_is_read_only_and_links_the_proposal(
    agent, sim, use_providers, client
):
    from django.contrib.auth.models import User

    fail_all(sim)
    agent.post(CHAT, HELLO, format="json")
    escalation = Escalation.objects.get()
    client.force_login(User.objects.create_superuser("alice", "a@example.com", "pw"))
    page = client.get(f"/admin/llmfallback/escalation/{escalation.pk}/change/")
    assert page.status_code == 200
    assert escalation.proposal.code.encode() in page.content
    r = client.post(
        "/admin/llmfallback/escalation/",
        {"action": "resolve", "_selected_action": [escalation.pk]},
        follow=True,
    )
    assert "Resolved 1 escalation(s)." in [str(m) for m in r.context["messages"]]
    assert Escalation.objects.get().status == "resolved"


def test_llm_state_export_writes_the_whole_state_without_secrets(
    agent, sim, use_providers, llm_data_dir
):
    from llmfallback.selectors import provider_secrets

    fail_all(sim)
    agent.post(CHAT, HELLO, format="json")
    call_command("llm_state", "export")
    text = (llm_data_dir / "fallback_state.json").read_text()
    state = json.loads(text)
    assert {
        "timestamp",
        "total_requests",
        "congress_escalations",
        "providers",
        "recent_errors",
    } <= state.keys()
    assert state["escalations"][0]["number"] == 1
    assert all(secret not in text for secret in provider_secrets())


CHILD = """
import os, sys, time, django
django.setup()
from llmfallback.core.types import Attempt, ChatRequest
from llmfallback.escalation.triggers import escalation_consider
request = ChatRequest.from_dicts([{"role": "user", "content": "hi"}])
print("ready", flush=True)
start = float(sys.stdin.readline())  # the same moment for every child, once all are ready
while time.time() < start:
    time.sleep(0.005)
ref = escalation_consider(request=request, attempts=[Attempt("groq", "k1", "unavailable", 503, 1.0)], all_failed=True)
print(ref.id)
"""


@pytest.mark.multiprocess
def test_several_processes_failing_at_once_open_one_escalation(tmp_path, database_env):
    env = (
        os.environ
        | database_env
        | {
            "SQLITE_PATH": str(tmp_path / "db.sqlite3"),
            "LLM_DATA_DIR": str(tmp_path / "data"),
            "DJANGO_SETTINGS_MODULE": "d8site.settings",
        }
    )
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=60
    )
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    assert [c.stdout.readline() for c in children] == ["ready\n"] * 6  # Django set up in each
    start = f"{time.time() + 0.1}\n"
    for c in children:
        c.stdin.write(start)
        c.stdin.flush()
    outputs = [c.communicate(timeout=30) for c in children]
    ids = {out.strip() for out, _ in outputs}
    assert len(ids) == 1, outputs
    check = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from llmfallback.models import Escalation as E; "
            "print(E.objects.count(), E.objects.get().failed_requests)",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert check.stdout.split() == ["1", "6"], check.stderr
