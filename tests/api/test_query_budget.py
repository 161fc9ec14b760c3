"""The chat path stays cheap: a fixed, small number of queries, whatever the history holds."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db

MESSAGES = {"messages": [{"role": "user", "content": "hi"}]}


def queries_for_one_chat(agent) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        assert agent.post("/api/llm/chat", MESSAGES, format="json").status_code == 200
    return [q["sql"] for q in ctx.captured_queries]


def test_a_served_request_uses_one_write_transaction_and_no_n_plus_one(agent, use_providers, sim):
    agent.post("/api/llm/chat", MESSAGES, format="json")  # warm up: rows and buckets exist
    first = queries_for_one_chat(agent)
    for _ in range(5):
        agent.post("/api/llm/chat", MESSAGES, format="json")
    again = queries_for_one_chat(agent)
    # auth, order, key state + one transaction + the agent's usage (one UPDATE, counters.py)
    assert len(first) == len(again) <= 11
    writes = [q for q in again if q.startswith(("UPDATE", "INSERT"))]
    assert len(writes) <= 6
