"""With PostgreSQL, a key revoked in one process stops working in every gunicorn worker at once,
not after the workers' AGENT_CACHE_S (agent_keys.agent_for_key, migration 0014)."""

from __future__ import annotations

import os
import time

import pytest

from llmfallback.access.agent_keys import AGENT_CACHE_S
from tests.scaleout.conftest import _manage

pytestmark = pytest.mark.multiprocess

CONNECTIONS = 16
AT_ONCE_S = 1.0  # a notification takes well under a millisecond here; the cache lasts 5 s


@pytest.mark.parametrize(
    "database_env",
    [pytest.param("postgresql", marks=pytest.mark.database("postgresql"))],
    indirect=True,
)
def test_a_key_revoked_elsewhere_is_refused_by_every_worker_at_once(service, database_env):
    assert AT_ONCE_S < AGENT_CACHE_S
    clients = [service.client() for _ in range(CONNECTIONS)]  # kept alive: each stays on its worker
    try:
        # Each connection's worker now remembers the key (the connections reach both workers).
        assert [c.get("/v1/models").status_code for c in clients] == [200] * CONNECTIONS
        _manage(
            os.environ | database_env, "agent_key", "revoke", "scaleout"
        )  # another process, like an operator's
        revoked_at = time.monotonic()
        refused = set()
        while len(refused) < CONNECTIONS and time.monotonic() - revoked_at < AT_ONCE_S:
            for i, client in enumerate(clients):
                if i not in refused and client.get("/v1/models").status_code == 401:
                    refused.add(i)
        assert len(refused) == CONNECTIONS, (
            f"{CONNECTIONS - len(refused)} connections still served {AT_ONCE_S} s after revoking"
        )
    finally:
        for client in clients:
            client.close()
