"""A request gives its PostgreSQL connection back before a provider thinks (db_pool.db_release),
and before its thread sleeps while the stream relay carries its stream, so a pool of a few connections serves hundreds of threads waiting on providers."""

from __future__ import annotations

import httpx
import pytest

from llmfallback import db_pool
from llmfallback.providers.transport import build_client
from llmfallback.runtime import runtime, runtime_reset


class FakeConnection:
    def __init__(self, vendor: str, in_atomic_block: bool = False) -> None:
        self.vendor, self.in_atomic_block, self.closed = vendor, in_atomic_block, False

    def close(self) -> None:
        self.closed = True


def test_it_gives_back_postgresql_connections_outside_a_transaction(monkeypatch):
    free, busy, sqlite = (
        FakeConnection("postgresql"),
        FakeConnection("postgresql", True),
        FakeConnection("sqlite"),
    )
    monkeypatch.setattr(db_pool.connections, "all", lambda initialized_only: [free, busy, sqlite])
    db_pool.db_release()
    assert (free.closed, busy.closed, sqlite.closed) == (True, False, False)


def test_the_provider_client_calls_it_before_every_request_goes_out():
    seen = []

    def handler(request):
        seen.append("sent")
        return httpx.Response(200)

    client = build_client(before_send=lambda request: seen.append("released"))
    client._transport = httpx.MockTransport(handler)
    client.get("http://provider.test/")
    assert seen == ["released", "sent"]


@pytest.mark.django_db
def test_the_shared_runtime_releases_before_sending():
    runtime_reset()
    assert runtime().client.event_hooks["request"] == [db_pool.db_release]


def test_a_request_thread_gives_it_back_before_it_sleeps_while_the_relay_streams():
    """A relayed stream's thread waits as long as the provider streams: whatever it queried
    before (a health record, an escalation's check) must not hold one of the pool's few
    connections for that long, while the stream's own bookkeeping waits for one."""
    from d8site.wsgi import application

    assert application.relay_hooks["before_wait"] is db_pool.db_release
