"""An escalation's timeline stays small: counted failures, a page at a time, pruned once closed."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import IntegrityError
from django.utils import timezone
from django_q.models import Schedule

from llmfallback import services
from llmfallback.escalation import timeline
from llmfallback.escalation.incidents import escalation_attach, escalation_resolve
from llmfallback.models import Escalation, EscalationEvent

NOW = timezone.now()
WORKERS = 4
GROQ_429 = [SimpleNamespace(provider="groq", error_type="rate_limit", status=429)]
ALL_DOWN = [
    SimpleNamespace(provider=p, error_type="unavailable", status=503)
    for p in ("groq", "gemini", "deepseek")
]


@pytest.fixture
def escalation(db):
    e = Escalation.objects.create(
        number=1,
        trigger="all_failed",
        reason="x",
        opened_at=NOW,
        first_seen_at=NOW,
        last_seen_at=NOW,
    )
    EscalationEvent.objects.create(escalation=e, created_at=NOW, kind="opened")
    return e


def fail(escalation, attempts, at, all_failed=True):
    escalation_attach(escalation=escalation, attempts=attempts, all_failed=all_failed, now=at)


def test_a_thousand_failed_requests_are_two_counted_events_and_a_small_answer(
    escalation, operator, agent
):
    for n in range(1000):
        at = NOW + timedelta(seconds=n)
        fail(escalation, ALL_DOWN if n % 2 else GROQ_429, at, all_failed=bool(n % 2))
    failures = escalation.events.filter(kind="failure").order_by("created_at")
    assert [(e.count, e.created_at, e.last_at) for e in failures] == [
        (500, NOW, NOW + timedelta(seconds=998)),
        (500, NOW + timedelta(seconds=1), NOW + timedelta(seconds=999)),
    ]
    escalation.refresh_from_db()
    assert (escalation.failed_requests, escalation.failures) == (500, 2000)  # counts stay whole
    for client in (operator, agent):
        answer = client.get(f"/api/llm/escalations/{escalation.pk}")
        assert answer.status_code == 200
        assert len(answer.content) < 5_000
        assert [e["count"] for e in answer.json()["timeline"]] == [1, 500, 500]


def test_a_worker_late_with_an_earlier_failure_never_moves_last_at_back(escalation):
    fail(escalation, GROQ_429, NOW + timedelta(seconds=10))
    fail(escalation, GROQ_429, NOW + timedelta(seconds=5))
    event = escalation.events.get(kind="failure")
    assert (event.count, event.last_at) == (2, NOW + timedelta(seconds=10))


def test_two_workers_starting_the_same_shape_at_once_make_one_event(escalation, monkeypatch):
    """The other worker inserts between this one's count (found nothing) and its insert."""
    fail(escalation, GROQ_429, NOW)
    counted = timeline._count_in
    calls = []

    def lost_race(events, now):
        calls.append(now)
        return 0 if len(calls) == 1 else counted(events, now)  # the first look saw no event

    monkeypatch.setattr(timeline, "_count_in", lost_race)
    fail(escalation, GROQ_429, NOW + timedelta(seconds=1))
    assert list(escalation.events.filter(kind="failure").values_list("count", flat=True)) == [2]
    with pytest.raises(IntegrityError):  # what the database itself guarantees
        event = escalation.events.get(kind="failure")
        EscalationEvent.objects.create(
            escalation=escalation, created_at=NOW, kind="failure", signature=event.signature
        )


def test_the_timeline_comes_a_page_at_a_time(escalation, operator, agent):
    for n in range(250):  # 250 shapes: one event each
        attempts = [SimpleNamespace(provider="groq", error_type="unavailable", status=500 + n)]
        fail(escalation, attempts, NOW + timedelta(seconds=n + 1))
    url = f"/api/llm/escalations/{escalation.pk}"
    first = operator.get(url).json()
    assert (len(first["timeline"]), first["timeline_total"], first["timeline_next_offset"]) == (
        100,
        251,
        100,
    )
    last = operator.get(url, {"timeline_offset": 200}).json()
    assert (len(last["timeline"]), last["timeline_next_offset"]) == (51, None)
    assert last["timeline"][-1]["detail"]["attempts"][0]["status"] == 749
    for_agents = agent.get(url, {"timeline_offset": 200}).json()["timeline"]
    assert len(for_agents) == 51 and "detail" not in json.dumps(for_agents)
    for bad in ("-1", "x", "1" + "0" * 30):
        assert operator.get(url, {"timeline_offset": bad}).status_code == 400


def test_closed_escalations_lose_their_failures_after_the_keep_days(escalation, settings):
    settings.LLM_ERROR_HISTORY_KEEP_DAYS = 30
    fail(escalation, GROQ_429, NOW)
    Escalation.objects.filter(pk=escalation.pk).update(status="recovered", closed_at=NOW)
    open_ = Escalation.objects.create(
        number=2, trigger="x", reason="x", opened_at=NOW, first_seen_at=NOW, last_seen_at=NOW
    )
    EscalationEvent.objects.create(escalation=escalation, created_at=NOW, kind="recovered")
    fail(open_, GROQ_429, NOW)

    assert services.escalation_events_prune(now=NOW + timedelta(days=29)) == 0
    assert services.escalation_events_prune(now=NOW + timedelta(days=31)) == 1
    assert [e.kind for e in escalation.events.all()] == ["opened", "recovered"]
    assert open_.events.filter(kind="failure").count() == 1  # an open incident keeps its own


def test_the_prune_runs_on_a_schedule_made_once(db):
    services.schedules_ensure()
    services.schedules_ensure()
    rows = Schedule.objects.filter(name="llm-escalation-events-prune")
    assert [(r.func, r.schedule_type) for r in rows] == [
        ("llmfallback.tasks.escalation_events_prune", Schedule.HOURLY)
    ]


def test_resolving_by_hand_keeps_its_event_beside_the_counted_failures(escalation):
    fail(escalation, GROQ_429, NOW)
    fail(escalation, GROQ_429, NOW + timedelta(seconds=1))
    escalation_resolve(escalation=escalation, by="ops")
    assert [(e.kind, e.count) for e in escalation.events.order_by("created_at", "id")] == [
        ("opened", 1),
        ("failure", 2),
        ("resolved", 1),
    ]


@pytest.mark.django_db(transaction=True)
def test_workers_counting_one_new_shape_at_once_lose_no_count(settings):
    """Real threads, each with its own connection, meeting a new shape at the same moment."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers at BEGIN: no race to lose (the PostgreSQL pass)")
    e = Escalation.objects.create(
        number=1, trigger="x", reason="x", opened_at=NOW, first_seen_at=NOW, last_seen_at=NOW
    )
    start = threading.Barrier(WORKERS)

    def worker(n):
        start.wait()
        try:
            for i in range(10):
                fail(e, GROQ_429, NOW + timedelta(seconds=n * 10 + i))
        finally:
            connection.close()

    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(worker, range(WORKERS)))
    assert list(e.events.filter(kind="failure").values_list("count", flat=True)) == [40]
    e.refresh_from_db()
    assert e.failed_requests == 40
