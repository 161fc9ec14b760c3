"""core.routing: what a `model` name means, without Django."""

import pytest

from llmfallback.core.routing import (
    Route,
    UnknownModel,
    in_route_order,
    model_ids,
    parse_routes,
    resolve,
    route,
)
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


# --- Named routes (LLM_ROUTES) ---------------------------------------------------------------

ROUTES = "fast=groq/llama-3.1-8b-instant,local>long; long=gemini/gemini-2.5-pro,groq"


def test_routes_are_parsed_with_their_models_and_overflow():
    routes = parse_routes(ROUTES, models=MODELS)
    assert routes["fast"] == Route(
        "fast", (("groq", "llama-3.1-8b-instant"), ("local", "qwen")), "long"
    )
    assert routes["long"].steps == (
        ("gemini", "gemini-2.5-pro"),
        ("groq", "llama-3.3-70b-versatile"),
    )
    assert routes["long"].overflow is None


def test_a_model_name_may_itself_hold_a_slash():
    routes = parse_routes("oss=groq/openai/gpt-oss-120b", models=MODELS)
    assert routes["oss"].steps == (("groq", "openai/gpt-oss-120b"),)


@pytest.mark.parametrize(
    "raw, says",
    [
        ("fast=nobody", "unknown provider 'nobody'"),
        ("fast=groq,groq/x", "names 'groq' twice"),
        ("fast=groq>huge", "overflows to unknown 'huge'"),
        ("auto=groq", "neither 'auto' nor a provider"),
        ("groq=gemini", "neither 'auto' nor a provider"),
        ("Fast=groq", "lower-case"),
        ("fast=groq; fast=gemini", "defined twice"),
        ("fast groq", "name=provider"),
    ],
)
def test_a_bad_route_is_refused_with_what_is_wrong(raw, says):
    with pytest.raises(ValueError, match=says):
        parse_routes(raw, models=MODELS)


def test_a_named_route_keeps_its_order_and_drops_disabled_providers():
    routes = parse_routes("r=local,gemini,groq/llama-3.1-8b-instant", models=MODELS)
    resolved = resolve("r", models=MODELS, chain=["groq", "gemini"], routes=routes)
    assert resolved.providers == ["gemini", "groq"]  # local is not enabled
    assert resolved.models == {"gemini": "gemini-2.5-flash", "groq": "llama-3.1-8b-instant"}


def test_auto_means_the_default_route_when_one_is_set():
    routes = parse_routes(ROUTES, models=MODELS)
    assert resolve("auto", models=MODELS, chain=CHAIN, routes=routes, default="long").name == "long"
    assert resolve("auto", models=MODELS, chain=CHAIN, routes=routes).providers == [
        "gemini",
        "groq",
        "local",
    ]


def test_provider_slash_model_may_pin_a_model_a_route_uses():
    routes = parse_routes(ROUTES, models=MODELS)
    resolved = resolve("groq/llama-3.1-8b-instant", models=MODELS, chain=CHAIN, routes=routes)
    assert resolved.providers == ["groq"]
    assert resolved.models == {"groq": "llama-3.1-8b-instant"}
    with pytest.raises(UnknownModel):
        resolve("groq/llama-2", models=MODELS, chain=CHAIN, routes=routes)


def test_the_model_list_names_routes_then_every_provider_model_pair():
    ids = [m["id"] for m in model_ids(MODELS, parse_routes(ROUTES, models=MODELS))]
    assert ids[:3] == ["auto", "fast", "long"]
    assert "groq/llama-3.1-8b-instant" in ids and "gemini/gemini-2.5-pro" in ids
    assert ids.index("groq/llama-3.3-70b-versatile") < ids.index("groq/llama-3.1-8b-instant")


def test_the_default_route_must_be_a_route():
    from llmfallback.providers.config import parse_provider_configs, parse_route_configs

    configs = parse_provider_configs({})
    env = {"LLM_ROUTES": "fast=groq", "LLM_DEFAULT_ROUTE": "slow"}
    with pytest.raises(ValueError, match="LLM_DEFAULT_ROUTE: 'slow' is not a route"):
        parse_route_configs(env, configs)
    routes, default = parse_route_configs(env | {"LLM_DEFAULT_ROUTE": "fast"}, configs)
    assert (list(routes), default) == (["fast"], "fast")
