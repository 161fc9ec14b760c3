"""Each worker keeps the providers' order between reads: until it hears of a change while
PostgreSQL's notifications are heard, else for at most a second. Disabling bites at once."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from llmfallback import runtime as llm_runtime
from llmfallback.models import ProviderHealth
from tests.scaleout.heard_watch import HeardWatch

BODY = {"messages": [{"role": "user", "content": "hi"}]}


def served_by(agent) -> str:
    return agent.post("/api/llm/chat", BODY, format="json").json()["provider"]


@pytest.fixture
def warm(agent, use_providers, sim):
    assert served_by(agent) == "groq"  # the order is now cached in this worker
    return agent


def test_a_disabled_provider_is_skipped_at_once_while_the_order_is_cached(warm):
    ProviderHealth.objects.filter(name="groq").update(is_enabled=False)
    assert served_by(warm) == "gemini"


def test_a_reordering_is_seen_once_the_cached_order_expires(warm):
    ProviderHealth.objects.filter(name="groq").update(priority=9)
    assert served_by(warm) == "groq"  # within ORDER_CACHE_S
    rt = llm_runtime.runtime()
    rt.order = rt.order._replace(expires=0.0)  # expired
    assert served_by(warm) == "gemini"


def order_reads(watch, monkeypatch) -> int:
    """How many queries one provider_order call made, with `watch` as the health watch."""
    monkeypatch.setattr(llm_runtime, "health_watch", lambda: watch)
    with CaptureQueriesContext(connection) as queries:
        llm_runtime.provider_order(llm_runtime.runtime())
    return len(queries)


def test_while_notifications_are_heard_the_order_is_read_again_only_after_a_change(
    warm, monkeypatch
):
    watch = HeardWatch(7)
    assert order_reads(watch, monkeypatch) == 1  # read at this version
    rt = llm_runtime.runtime()
    rt.order = rt.order._replace(expires=0.0)  # far past ORDER_CACHE_S
    assert order_reads(watch, monkeypatch) == 0
    rt.order = rt.order._replace(expires=float("inf"))  # and however long before it
    ProviderHealth.objects.filter(name="groq").update(priority=9)
    watch.at = 8  # the change is heard
    assert order_reads(watch, monkeypatch) == 1  # at once
    assert served_by(warm) == "gemini"
    assert order_reads(watch, monkeypatch) == 0


def test_when_notifications_are_not_heard_the_order_expires_on_its_own(warm, monkeypatch):
    watch = HeardWatch(7)
    assert order_reads(watch, monkeypatch) == 1
    watch.at = None  # the listener dropped: the copy is not trusted
    assert order_reads(watch, monkeypatch) == 0  # still within ORDER_CACHE_S
    rt = llm_runtime.runtime()
    rt.order = rt.order._replace(expires=0.0)
    assert order_reads(watch, monkeypatch) == 1
    watch.at = 9  # heard again, at a version this order was not read at
    assert order_reads(watch, monkeypatch) == 1
    assert order_reads(watch, monkeypatch) == 0
