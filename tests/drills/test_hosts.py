"""The hosts drill (bench/hosts), scaled down: two instances sharing PostgreSQL and Redis behind
the sample HAProxy; one killed with SIGKILL and started again, the other drained with SIGTERM."""

import pytest

from bench import hosts

pytestmark = [pytest.mark.multiprocess, pytest.mark.database("postgresql")]


def test_agents_behind_haproxy_survive_a_killed_host_and_a_drained_one(tmp_path):
    argv = ["--phase-s", "4", "--agents", "8", "--bursts", "1", "--workers", "1", "--threads", "16"]
    args = hosts.parser().parse_args(argv + ["--client-timeout", "30"])
    targets, figures = hosts.drill_hosts(args, tmp_path)
    text = hosts.report(args, targets, figures)
    print(text)
    assert not targets.missed, text
    assert figures["drain"]["outcomes"].get("refused"), "the drained host's port never closed"
    assert {b.hosts_serving for b in figures["bursts"]} == {1, 2}
    assert len(figures["escalations"]) <= 1, "one incident, not one escalation per burst"
