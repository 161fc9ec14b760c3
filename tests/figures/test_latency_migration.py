"""0009 keeps the old histogram's counts, each in the new bucket holding the old one's middle."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("llmfallback", "0008_agent_limits")]
AFTER = [("llmfallback", "0009_log_latency_buckets")]


@pytest.fixture
def back_to_latest():
    """Leave the schema as every later test expects it: every migration applied."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_old_counts_move_to_the_new_bucket_holding_their_middle(back_to_latest):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps.get_model("llmfallback", "UsageBucket")
    old.objects.create(
        provider="groq", minute=timezone.now(), requests=6, le_25=3, le_250=2, le_inf=1
    )

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps.get_model("llmfallback", "UsageBucket")
    row = new.objects.get()
    # 0-25 ms -> 12.5 ms (h14: 10.7-12.8), 100-250 ms -> 158 ms (h28), above 10 s -> h51.
    assert (row.requests, row.h14, row.h28, row.h51) == (6, 3, 2, 1)
    assert sum(getattr(row, f"h{i:02}") for i in range(62)) + row.h_inf == 6
