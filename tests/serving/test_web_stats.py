"""The workers' shared counts (d8site/web_stats.py): each worker its row, any worker reads all."""

from __future__ import annotations

import os

import pytest

from d8site.web_stats import WebStats


def test_a_forked_worker_writes_a_row_its_parent_reads():
    stats = WebStats(slots=4)
    pid = os.fork()
    if pid == 0:  # the worker
        row = stats.claim(os.getpid())
        row.set("in_flight", 7)
        row.add("shed_queue_full", 3)
        os._exit(0)
    os.waitpid(pid, 0)
    assert stats.rows() == []  # the child has exited: its row no longer counts
    stats._alive = lambda p: True
    assert stats.totals()["in_flight"] == 7
    assert stats.totals()["shed_queue_full"] == 3


def test_a_dead_workers_row_is_taken_over_with_its_counts_cleared():
    alive = {101}
    stats = WebStats(slots=1, alive=lambda pid: pid in alive)
    stats.claim(101).add("dropped_client_gone", 5)
    alive.remove(101)
    alive.add(202)
    row = stats.claim(202)
    assert row.get("dropped_client_gone") == 0
    assert stats.totals() == stats.totals() | {"workers": 1, "dropped_client_gone": 0}
    with pytest.raises(RuntimeError, match="more than 1 web workers"):
        alive.add(303)
        stats.claim(303)
