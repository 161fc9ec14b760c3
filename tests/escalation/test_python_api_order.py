"""The in-process Python API follows the operators' order and enabled providers, as REST does."""

import pytest

from llmfallback import services
from llmfallback.manager import FallbackConfig, LLMFallbackManager
from llmfallback.runtime import runtime

pytestmark = pytest.mark.django_db

HELLO = [{"role": "user", "content": "hello"}]


def fresh_order():
    runtime().order = None  # every worker reads the order again within a second


def test_the_manager_follows_a_provider_moved_down_by_operators(sim, use_providers):
    runtime()
    services.provider_move(name="groq", direction="down", by="test")
    fresh_order()
    assert LLMFallbackManager().chat(HELLO)[1] == "gemini"


def test_the_manager_skips_a_provider_disabled_by_operators(sim, use_providers):
    runtime()
    services.provider_disable(name="groq", by="test")
    fresh_order()
    assert LLMFallbackManager().chat(HELLO)[1] == "gemini"
    # Even when the seed's config names it explicitly.
    config = FallbackConfig(provider_priority=["groq", "deepseek"])
    assert LLMFallbackManager(config).chat(HELLO)[1] == "deepseek"
