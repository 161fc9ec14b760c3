"""The hosts drill (bench/hosts), scaled down: two instances sharing PostgreSQL and Redis behind
the sample HAProxy; one killed with SIGKILL and started again, the other drained with SIGTERM."""

import pytest

from bench import hosts

pytestmark = [pytest.mark.multiprocess, pytest.mark.database("postgresql")]


# What docs/hosts.md says a drain may still cost: a connection that reaches the listening socket
# in the microseconds between the worker's last accept and its close is reset. The scaled-down
# drill runs once more when that (and only that) happened, and the second run must be clean.
RESET_WINDOW = {"answers", "drain: none unanswered"}


def test_agents_behind_haproxy_survive_a_killed_host_and_a_drained_one(tmp_path):
    argv = ["--phase-s", "4", "--agents", "8", "--bursts", "1", "--workers", "1", "--threads", "16"]
    args = hosts.parser().parse_args(argv + ["--client-timeout", "30"])
    (tmp_path / "first").mkdir()
    targets, figures = hosts.drill_hosts(args, tmp_path / "first")
    text = hosts.report(args, targets, figures)
    print(text)
    resets = figures["drain"]["outcomes"].get("reset", 0)
    if targets.missed and set(targets.missed) <= RESET_WINDOW and resets <= 1:
        (tmp_path / "again").mkdir()
        targets, figures = hosts.drill_hosts(args, tmp_path / "again")
        text = hosts.report(args, targets, figures)
        print(text)
    assert not targets.missed, text
    assert figures["drain"]["outcomes"].get("refused"), "the drained host's port never closed"
    assert {b.hosts_serving for b in figures["bursts"]} == {1, 2}
    assert len(figures["escalations"]) <= 1, "one incident, not one escalation per burst"
