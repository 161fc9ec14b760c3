"""The sample HAProxy and nginx configurations (ops/) in front of two real instances sharing
PostgreSQL and Redis: agents reach both hosts, a streamed token goes through at once, and a
host stopped with SIGTERM costs no request."""

from __future__ import annotations

import statistics
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from bench import balancer, drill, fleet

pytestmark = [pytest.mark.multiprocess, pytest.mark.database("postgresql")]

STALL = {"behavior": "stream_stall", "after": 2, "interval_s": 0.1, "duration_s": 0.3}


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    """Two hosts, one worker each, logging every request (to tell which host answered)."""
    from llmfallback.simulator.control import SimulatorControl

    tmp = tmp_path_factory.mktemp("hosts")
    with fleet.fleet(tmp, hosts=2, workers=1, threads=8, env={"GUNICORN_ACCESS_LOG": "-"}) as f:
        sim = SimulatorControl(f.sim_url, timeout=30.0)
        yield f, sim
        sim.close()


@pytest.fixture
def sim(hosts):
    _, control = hosts
    control.reset()
    return control


def addresses(f: fleet.Fleet) -> list[str]:
    return [f"127.0.0.1:{h.port}" for h in f.hosts]


def chats_served(f: fleet.Fleet) -> Counter:
    return Counter(
        {
            h.name: (f.tmp / f"host-{h.name}.log").read_text().count('"POST /api/llm/chat')
            for h in f.hosts
        }
    )


def chat_burst(f: fleet.Fleet, base_url: str, n: int = 24) -> list[int]:
    def one(_):
        with f.client(base_url, timeout=30) as client:
            return drill.one_request(client).status

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(n)))


def first_token_ms(f: fleet.Fleet, base_url: str, n: int = 5) -> float:
    """Median time to the first content token of `n` streams whose provider then stalls."""
    times = []
    with f.client(base_url, timeout=30) as client:
        for _ in range(n):
            started = time.perf_counter()
            with client.stream("POST", "/v1/chat/completions", json=fleet.STREAM) as r:
                lines = r.iter_lines()
                next(line for line in lines if '"content":"' in line and '"content":""' not in line)
                times.append((time.perf_counter() - started) * 1000)
                for _ in lines:
                    pass
    return statistics.median(times)


@pytest.mark.parametrize("kind", ["haproxy", "nginx"])
def test_the_balancer_sends_agents_to_both_hosts(hosts, sim, kind, tmp_path):
    f, _ = hosts
    before = chats_served(f)
    with getattr(balancer, kind)(addresses(f), tmp_path) as lb:
        statuses = chat_burst(f, lb)
    served = chats_served(f) - before
    assert statuses == [200] * len(statuses)
    assert set(served) == {"a", "b"}, served


@pytest.mark.parametrize("kind", ["haproxy", "nginx"])
def test_a_streamed_token_goes_through_the_balancer_at_once(hosts, sim, kind, tmp_path):
    """Without HAProxy's `option http-no-delay` the first token waited ~220 ms for more data."""
    f, _ = hosts
    sim.script("groq", [STALL | {"times": -1}])
    with getattr(balancer, kind)(addresses(f), tmp_path) as lb:
        assert first_token_ms(f, lb) < 100


@pytest.mark.parametrize("kind", ["haproxy", "nginx"])
def test_a_host_stopped_with_sigterm_costs_no_request(hosts, sim, kind, tmp_path):
    f, _ = hosts
    b = f.hosts[1]
    with getattr(balancer, kind)(addresses(f), tmp_path) as lb:
        agents = fleet.Agents(f, lb, 6, timeout=30)
        agents.start()
        try:
            time.sleep(1.0)
            b.term()
            b.proc.wait(timeout=30)
            time.sleep(1.0)
        finally:  # else, should the host not stop, its agents would go on for the whole run
            agents.stop()
    b.start()  # for the next test
    b.wait_ready()
    statuses = Counter(o.status for o in agents.outcomes)
    assert set(statuses) == {200}, (statuses, [o for o in agents.outcomes if o.status != 200])
