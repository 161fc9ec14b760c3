"""The /_sim control API: scripts, per-key steps, counters, reset."""

import httpx

from llmfallback.simulator.control import key_fingerprint, running_simulator, simulator_env


def test_health(http, sim_server):
    base_url, _ = sim_server
    assert http.get(f"{base_url}/_sim/health").json() == {"ok": True}


def test_a_step_applies_times_then_the_provider_succeeds(ctl, call):
    ctl.script("groq", [{"behavior": "rate_limit", "times": 2}, {"behavior": "auth"}])
    assert [call("groq").status_code for _ in range(4)] == [429, 429, 401, 200]


def test_times_minus_one_lasts_until_replaced(ctl, call):
    ctl.script("deepseek", [{"behavior": "quota", "times": -1}])
    assert {call("deepseek").status_code for _ in range(3)} == {402}
    ctl.script("deepseek", [{"behavior": "ok"}], replace=True)
    assert call("deepseek").status_code == 200


def test_replace_false_appends(ctl, call):
    ctl.script("groq", [{"behavior": "auth"}])
    ctl.script("groq", [{"behavior": "quota"}], replace=False)
    assert [call("groq").status_code for _ in range(3)] == [401, 429, 200]


def test_a_keyed_step_only_hits_requests_with_that_key(ctl, call):
    ctl.script("groq", [{"behavior": "auth", "times": -1}], key="gsk_revoked")
    assert call("groq", key="gsk_revoked").status_code == 401
    assert call("groq", key="gsk_good").status_code == 200
    assert call("groq", key="gsk_revoked").status_code == 401


def test_gemini_keyed_step_reads_the_goog_header(ctl, call):
    ctl.script("gemini", [{"behavior": "auth"}], key="AIza_bad")
    assert call("gemini", key="AIza_other").status_code == 200
    assert call("gemini", key="AIza_bad").status_code == 400


def test_calls_count_chat_requests_per_provider_and_key(ctl, call):
    assert ctl.calls() == {"groq": 0, "gemini": 0, "deepseek": 0}
    call("groq", key="gsk_a")
    call("groq", key="gsk_b")
    ctl.script("gemini", [{"behavior": "unavailable"}])
    call("gemini")
    call("vllm", key=None)
    assert ctl.calls() == {"groq": 2, "gemini": 1, "deepseek": 0, "vllm": 1}
    by_key = ctl.calls_by_key()
    assert by_key["groq"] == {key_fingerprint("gsk_a"): 1, key_fingerprint("gsk_b"): 1}
    assert by_key["vllm"] == {"-": 1}


def test_reset_clears_scripts_and_counters(ctl, call):
    ctl.script("groq", [{"behavior": "auth", "times": -1}])
    call("groq")
    ctl.reset()
    assert ctl.calls()["groq"] == 0
    assert call("groq").status_code == 200


def test_pending_scripts_can_be_listed(ctl, http, sim_server):
    base_url, _ = sim_server
    ctl.script("groq", [{"behavior": "rate_limit", "times": 3, "retry_after": 9}])
    pending = http.get(f"{base_url}/_sim/script").json()
    assert pending == {"groq": [{"behavior": "rate_limit", "times": 3, "retry_after": 9}]}


def test_unknown_behaviour_is_refused(ctl, http, sim_server):
    base_url, _ = sim_server
    r = http.post(
        f"{base_url}/_sim/script", json={"provider": "groq", "steps": [{"behavior": "explode"}]}
    )
    assert r.status_code == 400 and "unknown behavior" in r.json()["error"]
    r = http.post(f"{base_url}/_sim/script", json={"steps": []})
    assert r.status_code == 400


def test_running_simulator_stops_its_server():
    with running_simulator() as (base_url, control):
        assert control.calls()["groq"] == 0
    try:
        httpx.get(f"{base_url}/_sim/health", timeout=1)
    except httpx.ConnectError:
        pass
    else:
        raise AssertionError("server still answering")


def test_simulator_env_points_every_provider_at_the_simulator():
    env = simulator_env("http://127.0.0.1:7900/")
    assert env["GROQ_BASE_URL"] == "http://127.0.0.1:7900/groq/openai/v1"
    assert env["GEMINI_BASE_URL"] == "http://127.0.0.1:7900/gemini/v1beta"
    assert env["DEEPSEEK_BASE_URL"] == "http://127.0.0.1:7900/deepseek"
    assert env["GROQ_API_KEY"].startswith("gsk_sim")
    assert env["GEMINI_API_KEY"].startswith("AIza_sim")
    assert env["DEEPSEEK_API_KEY"].startswith("sk-sim")
