"""Chaos mode: a seeded schedule of short fault bursts that always leaves one provider healthy."""

import httpx
import pytest

from llmfallback.simulator.chaos import WEIGHTS, Burst, Chaos, ChaosConfig, plan
from llmfallback.simulator.chaos_faults import fault_step
from llmfallback.simulator.control import SimulatorControl, key_fingerprint, simulator_env
from llmfallback.simulator.server import start_in_thread

PROVIDERS = ("groq", "gemini", "deepseek")


class FakeClock:
    def __init__(self, now: float = 100.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def faulty(p, provider: str, t: float) -> bool:
    return any(b.provider == provider and b.start <= t < b.end for b in p.bursts)


def test_the_same_seed_gives_the_same_plan_and_another_seed_another():
    config = ChaosConfig(seed=7, duration_s=300)
    assert plan(config) == plan(ChaosConfig(seed=7, duration_s=300))
    assert plan(config).bursts != plan(ChaosConfig(seed=8, duration_s=300)).bursts


@pytest.mark.parametrize("seed", range(20))
def test_one_provider_is_healthy_at_every_moment_and_the_others_fail_for_a_second_or_two(seed):
    p = plan(ChaosConfig(seed=seed, duration_s=120, hold_s=30, calm_s=10))
    for step in range(1200):
        t = step / 10
        anchor = next(a for a in p.anchors if a.start <= t < a.end)
        assert not faulty(p, anchor.provider, t)
        assert not faulty(p, anchor.provider, max(t - 10, 0)), "an anchor faulted within calm_s"
    assert {b.provider for b in p.bursts} == set(PROVIDERS)  # with turns, everyone fails
    assert all(1.0 <= b.end - b.start <= 2.0 for b in p.bursts if b.end < 120)


def test_bursts_of_one_provider_never_overlap_and_end_with_the_run():
    p = plan(ChaosConfig(seed=1, duration_s=60))
    for provider in PROVIDERS:
        mine = [b for b in p.bursts if b.provider == provider]
        assert all(a.end <= b.start for a, b in zip(mine, mine[1:], strict=False))
    assert max(b.end for b in p.bursts) <= 60


def test_the_mix_holds_every_fault_class_but_never_auth():
    p = plan(ChaosConfig(seed=3, duration_s=3600, anchor="deepseek"))
    assert {b.fault for b in p.bursts} == set(WEIGHTS)
    assert "auth" not in WEIGHTS


def test_a_named_anchor_holds_the_line_for_the_whole_run():
    p = plan(ChaosConfig(seed=5, duration_s=200, anchor="deepseek"))
    assert [a.provider for a in p.anchors] == ["deepseek"]
    assert not [b for b in p.bursts if b.provider == "deepseek"]


@pytest.mark.parametrize(
    "options",
    [
        {"duration_s": 0},
        {"duration_s": 100_000},
        {"providers": ["groq"]},
        {"faults": {"auth": 1.0}},
        {"faults": {"hang": 0}},
        {"faults": {"hang": 1, "empty": -1}},
        {"burst_s": [2, 1]},
        {"gap_s": [0, 1]},
        {"hold_s": 0.001},
        {"stall_s": 1000},
        {"anchor": "openai"},
        {"surprise": 1},
    ],
)
def test_a_bad_config_is_refused_with_a_reason(options):
    with pytest.raises(ValueError):
        ChaosConfig.from_json(options)


def test_a_burst_is_found_with_the_time_it_has_left_and_chaos_ends_by_itself():
    clock = FakeClock()
    burst = Burst("groq", 2.0, 3.5, "unavailable", "json503")
    p = plan(ChaosConfig(duration_s=10))
    p.bursts[:] = [burst]
    chaos = Chaos(p, clock=clock)
    clock.now += 1.9
    assert chaos.burst_now("groq") is None
    clock.now += 0.6
    assert chaos.burst_now("groq") == (burst, pytest.approx(1.0))
    assert chaos.burst_now("gemini") is None
    clock.now += 10
    assert chaos.over()


@pytest.mark.parametrize(
    "provider,params",
    [
        ("groq", {"retry_after": 2}),
        ("gemini", {"retry_delay": "2s"}),
        ("deepseek", {}),  # DeepSeek never names a wait
    ],
)
def test_rate_limits_name_the_time_the_burst_has_left_as_each_provider_does(provider, params):
    assert fault_step(Burst(provider, 0, 2, "rate_limit"), 1.2, stall_s=30) == (
        "rate_limit",
        params,
    )


def test_stalls_last_stall_s_whatever_the_burst():
    burst = Burst("deepseek", 0, 1, "trickle", "comment")
    behavior, params = fault_step(burst, 0.5, stall_s=12)
    assert (behavior, params["then"], params["max_s"], params["line"]) == (
        "keepalive",
        "forever",
        12,
        "comment",
    )
    assert fault_step(Burst("groq", 0, 1, "hang"), 0.5, stall_s=12) == ("hang", {"hang_s": 12})


# Over real sockets, with the server's chaos clock in the test's hand.


@pytest.fixture
def chaos_server():
    server = start_in_thread()
    control = SimulatorControl(server.base_url)
    yield server, control
    control.close()
    server.stop()


def post(base_url, provider, key=None):
    env = simulator_env(base_url)
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    if provider == "gemini":
        url = f"{env['GEMINI_BASE_URL']}/models/gemini-2.0-flash:generateContent"
        body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
        headers = {"x-goog-api-key": key or env["GEMINI_API_KEY"]}
    else:
        url = env[f"{provider.upper()}_BASE_URL"] + "/chat/completions"
        headers = {"Authorization": f"Bearer {key or env[f'{provider.upper()}_API_KEY']}"}
    return httpx.post(url, json=body, headers=headers, timeout=5)


def start_fake_chaos(server, bursts, clock, **options):
    p = plan(ChaosConfig(duration_s=10, **options))
    p.bursts[:] = bursts
    server.book.chaos_start(Chaos(p, clock=clock))


def test_requests_in_a_burst_get_its_fault_and_the_others_a_normal_answer(chaos_server):
    server, _ = chaos_server
    clock = FakeClock()
    start_fake_chaos(server, [Burst("gemini", 1, 2, "rate_limit")], clock)
    assert post(server.base_url, "gemini").status_code == 200
    clock.now += 1.2
    r = post(server.base_url, "gemini")
    assert r.status_code == 429 and "retry-after" not in r.headers
    assert '"retryDelay": "1s"' in r.text
    assert post(server.base_url, "groq").status_code == 200
    clock.now += 20
    assert post(server.base_url, "gemini").status_code == 200  # over: chaos stopped by itself


def test_a_script_step_still_wins_over_chaos(chaos_server):
    server, control = chaos_server
    clock = FakeClock()
    start_fake_chaos(server, [Burst("groq", 0, 5, "unavailable", "json503")], clock)
    control.script("groq", [{"behavior": "ok"}])
    assert post(server.base_url, "groq").status_code == 200
    assert post(server.base_url, "groq").status_code == 503


def test_bad_keys_fail_auth_for_the_whole_run_and_other_keys_do_not(chaos_server):
    server, _ = chaos_server
    bad = "gsk_second_key_revoked"
    start_fake_chaos(server, [], FakeClock(), bad_keys=(key_fingerprint(bad),))
    assert post(server.base_url, "groq", key=bad).status_code == 401
    assert post(server.base_url, "groq").status_code == 200


def test_the_call_log_names_provider_key_arrival_and_what_was_served(chaos_server):
    server, control = chaos_server
    clock = FakeClock()
    start_fake_chaos(server, [Burst("deepseek", 0, 5, "error_in_200")], clock)
    post(server.base_url, "groq")
    post(server.base_url, "deepseek", key="sk-other")
    log = control.call_log()
    assert log["next"] == 2
    first, second = log["calls"]
    assert (first["provider"], first["served"]) == ("groq", "ok")
    assert (second["provider"], second["key"], second["served"]) == (
        "deepseek",
        key_fingerprint("sk-other"),
        "error_in_200",
    )
    assert first["t"] <= second["t"] and first["mono"] <= second["mono"]
    assert "sk-other" not in str(log)  # fingerprints only, never the key
    assert control.call_log(since=1)["calls"] == [second]
    control.reset()
    assert control.call_log() == {"calls": [], "next": 0}


def test_chaos_starts_and_stops_over_the_control_api(chaos_server):
    _, control = chaos_server
    started = control.chaos_start(seed=4, duration_s=30, anchor="deepseek")
    assert started["anchors"][0]["provider"] == "deepseek" and started["bursts"]
    assert control.chaos()["over"] is False
    control.chaos_stop()
    assert control.chaos() == {"running": False}
    with pytest.raises(httpx.HTTPStatusError) as refused:
        control.chaos_start(faults={"auth": 1})
    assert "faults" in refused.value.response.json()["error"]


def test_quotas_are_drawn_only_where_the_provider_names_a_short_reset():
    p = plan(ChaosConfig(seed=2, duration_s=3600, hold_s=600, calm_s=60))
    assert {b.provider for b in p.bursts if b.fault == "quota"} == {"groq"}


def test_a_groq_quota_names_the_time_the_burst_has_left():
    step = fault_step(Burst("groq", 0, 2, "quota"), 1.25, stall_s=30)
    assert step == ("quota", {"wait": "1.250s", "retry_after": 2})
