"""The openai SDK against a live gateway: an agent over its limit gets RateLimitError."""

import time

import openai
import pytest

from llmfallback.access import agent_keys, counters


@pytest.fixture
def sdk(live_server, use_providers, sim):
    def make(max_retries=0, **limits_):
        agent_keys.agent_cache_clear()
        _, raw = agent_keys.agent_key_create(name=f"sdk-{len(limits_)}-{max_retries}")
        agent_keys.agent_key_limits_set(name=f"sdk-{len(limits_)}-{max_retries}", **limits_)
        url = f"{live_server.url}/v1"
        return openai.OpenAI(base_url=url, api_key=raw, max_retries=max_retries, timeout=20)

    return make


def hello():
    return {"model": "auto", "messages": [{"role": "user", "content": "Hello"}]}


def test_an_agent_over_its_minute_gets_rate_limit_error_with_the_wait(sdk):
    client = sdk(rpm_limit=1)
    client.chat.completions.create(**hello())
    with pytest.raises(openai.RateLimitError) as over:
        client.chat.completions.create(**hello())
    assert over.value.code == "rate_limit_exceeded"
    wait = int(over.value.response.headers["retry-after"])
    assert 1 <= wait <= 60
    assert abs(int(over.value.response.headers["retry-after-ms"]) / 1000 - wait) <= 1


def test_the_sdk_retry_waits_the_retry_after_and_then_succeeds(sdk, monkeypatch):
    monkeypatch.setattr(counters, "WINDOW_S", 2)  # a two-second minute keeps the test short
    client = sdk(max_retries=1, rpm_limit=1)
    # Start at the top of a window: a first call late in one left the second in the next,
    # admitted without a retry (seen once in CI).
    time.sleep(counters.WINDOW_S - time.time() % counters.WINDOW_S + 0.02)
    client.chat.completions.create(**hello())
    waits = []
    calculate = client._calculate_retry_timeout

    def spy(remaining, options, headers=None):
        waits.append((calculate(remaining, options, headers), headers))
        return waits[-1][0]

    monkeypatch.setattr(client, "_calculate_retry_timeout", spy)
    started = time.monotonic()
    completion = client.chat.completions.create(**hello())  # refused, waited, admitted
    waited = time.monotonic() - started
    assert completion.choices[0].message.content
    [(wait, headers)] = waits  # one retry, after the wait the gateway named
    assert wait == int(headers["retry-after-ms"]) / 1000
    assert wait <= waited < wait + 1.0
