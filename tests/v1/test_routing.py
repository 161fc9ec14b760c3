"""core.routing: what a `model` name means, without Django."""

import pytest

from llmfallback.core.routing import UnknownModel, in_route_order, route
from llmfallback.core.types import Attempt

MODELS = {"groq": "llama-3.3-70b-versatile", "gemini": "gemini-2.5-flash", "local": "qwen"}
CHAIN = ["gemini", "groq", "disabled-one", "local"]  # operators' order; not all configured


def test_auto_is_the_configured_chain_in_the_operators_order():
    assert route("auto", models=MODELS, chain=CHAIN) == ["gemini", "groq", "local"]


def test_a_provider_name_leads_and_the_chain_follows():
    assert route("local", models=MODELS, chain=CHAIN) == ["local", "gemini", "groq"]


def test_provider_slash_model_pins_one_provider():
    assert route("groq/llama-3.3-70b-versatile", models=MODELS, chain=CHAIN) == ["groq"]


@pytest.mark.parametrize("model", ["groq/other", "openai/gpt-4o", "gpt-4o", "auto/x", "/", "groq/"])
def test_anything_else_is_unknown(model):
    with pytest.raises(UnknownModel):
        route(model, models=MODELS, chain=CHAIN)


def test_attempts_follow_the_route_order_and_keep_each_providers_own_order():
    a = [Attempt("groq", "k1", "rate_limit", 429, 1), Attempt("groq", "k2", None, 200, 1)]
    skipped = Attempt("gemini", "-", "unsupported", None, 0)
    ordered = in_route_order(["gemini", "groq"], [*a, skipped])
    assert [(x.provider, x.key) for x in ordered] == [
        ("gemini", "-"),
        ("groq", "k1"),
        ("groq", "k2"),
    ]
