"""Each worker re-reads the providers' order at most once a second; disabling still bites at once."""

from __future__ import annotations

import pytest

from llmfallback import services
from llmfallback.models import ProviderHealth

BODY = {"messages": [{"role": "user", "content": "hi"}]}


def served_by(agent) -> str:
    return agent.post("/api/llm/chat", BODY, format="json").json()["provider"]


@pytest.fixture
def warm(agent, use_providers, sim):
    assert served_by(agent) == "groq"  # the order is now cached in this worker
    return agent


def test_a_disabled_provider_is_skipped_at_once_while_the_order_is_cached(warm):
    ProviderHealth.objects.filter(name="groq").update(is_enabled=False)
    assert served_by(warm) == "gemini"


def test_a_reordering_is_seen_once_the_cached_order_expires(warm):
    ProviderHealth.objects.filter(name="groq").update(priority=9)
    assert served_by(warm) == "groq"  # within ORDER_CACHE_S
    rt = services.runtime()
    rt.order = (0.0, rt.order[1])  # expired
    assert served_by(warm) == "gemini"
