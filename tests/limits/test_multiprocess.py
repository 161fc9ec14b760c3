"""Several gunicorn workers share one agent's limit: on SQLite, and on PostgreSQL with Redis."""

from __future__ import annotations

import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import httpx

from tests.scaleout.conftest import _manage

LIMIT = 5
CALLS = 24


def test_workers_together_never_admit_more_than_the_limit(service, database_env):
    env = os.environ | database_env
    # A key made with its limit: no worker has the service's own key, limitless, in its cache
    # (AGENT_CACHE_S) to go on admitting by. Setting limits is tested in test_setting_limits.
    out = _manage(env, "agent_key", "create", "limited", "--rpm", str(LIMIT))
    limited = replace(service, agent_key=re.search(r"d8_\S+", out).group(0))
    _wait_for_a_fresh_minute()
    with ThreadPoolExecutor(CALLS) as pool, limited.client() as client:
        statuses = list(pool.map(lambda _: _chat(client), range(CALLS)))
    assert statuses.count(200) == LIMIT, statuses
    assert statuses.count(429) == CALLS - LIMIT
    me = _usage_once_written(limited)
    assert me["usage"]["requests_this_minute"] == LIMIT  # from Redis or the key's row
    assert me["usage"]["tokens_today"] > 0
    out = _manage(env, "agent_key", "list")
    assert re.search(rf"limited.*rpm={LIMIT}", out)


def _usage_once_written(service) -> dict:
    """The agent's health entry once the workers wrote their buffered tokens (a key without a
    token limit has them written every LLM_SUCCESS_FLUSH_S, 0.25 s under gunicorn)."""
    deadline = time.monotonic() + 5
    with service.client() as client:
        while True:
            [me] = client.get("/api/llm/health").json()["agents"]
            if me["usage"]["tokens_today"] > 0 or time.monotonic() > deadline:
                return me
            time.sleep(0.05)


def _chat(client: httpx.Client) -> int:
    body = {"messages": [{"role": "user", "content": "hi"}]}
    return client.post("/api/llm/chat", json=body).status_code


def _wait_for_a_fresh_minute() -> None:
    # All calls must fall in one minute window; a few seconds of margin is plenty.
    if time.time() % 60 > 50:
        time.sleep(61 - time.time() % 60)
