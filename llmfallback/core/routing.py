"""Which providers a /v1 `model` name means: "auto", a named route, a provider name, or
provider/model.

Named routes (LLM_ROUTES) are operators' chains of provider/model pairs, such as a fast one, a
smart one and a long-context one; each may name the route a context-length refusal goes to.
Health stays per provider and key: a route only says whom to ask, in which order, for which model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .types import Attempt

AUTO = "auto"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


class UnknownModel(LookupError):
    """`model` names no route: not "auto", a route, a configured provider, or its provider/model."""


@dataclass(frozen=True, slots=True)
class Route:
    """A named chain: (provider, model) pairs in order; `overflow` takes context-length refusals."""

    name: str
    steps: tuple[tuple[str, str], ...]
    overflow: str | None = None


@dataclass(frozen=True, slots=True)
class Resolved:
    """What one `model` means: the route's name, providers to try, and the model for each."""

    name: str
    providers: list[str]
    models: dict[str, str] = field(default_factory=dict)
    overflow: str | None = None
    named: str | None = None  # the provider the caller named itself, if it did


def parse_routes(raw: str, *, models: Mapping[str, str]) -> dict[str, Route]:
    """LLM_ROUTES: `name=provider[/model],provider[/model][>overflow]` routes joined by `;`.

    `models`: every configured provider -> its model (a step without /model uses it). Raises
    ValueError naming what is wrong: an unknown provider or overflow route, a provider twice in
    one route, a route named like a provider or "auto".
    """
    routes = {}
    for part in (p.strip() for p in raw.split(";")):
        if part:
            route_ = _parse_route(part, models)
            if route_.name in routes:
                raise ValueError(f"LLM_ROUTES: route {route_.name!r} is defined twice")
            routes[route_.name] = route_
    for r in routes.values():
        if r.overflow is not None and r.overflow not in routes:
            raise ValueError(f"LLM_ROUTES: route {r.name!r} overflows to unknown {r.overflow!r}")
    return routes


def _parse_route(part: str, models: Mapping[str, str]) -> Route:
    name, equals, chain = (s.strip() for s in part.partition("="))
    if not equals or not _NAME.match(name) or name == AUTO or name in models:
        raise ValueError(
            f"LLM_ROUTES: {part[:80]!r} must be name=provider[/model],... with a lower-case"
            " name that is neither 'auto' nor a provider's"
        )
    chain, _, overflow = (s.strip() for s in chain.partition(">"))
    steps = []
    for step in (s.strip() for s in chain.split(",")):
        provider, _, model = (s.strip() for s in step.partition("/"))
        if provider not in models:
            raise ValueError(f"LLM_ROUTES: route {name!r} names unknown provider {provider!r}")
        if provider in dict(steps):
            raise ValueError(f"LLM_ROUTES: route {name!r} names {provider!r} twice")
        steps.append((provider, model or models[provider]))
    return Route(name, tuple(steps), overflow or None)


def resolve(
    model: str,
    *,
    models: Mapping[str, str],
    chain: Sequence[str],
    routes: Mapping[str, Route] | None = None,
    default: str | None = None,
) -> Resolved:
    """What `model` means. `models`: configured provider -> model; `chain`: the operators'
    current order of enabled providers; `default`: the route "auto" stands for (None: the chain).
    A named route keeps its own order, without providers that are disabled or not configured."""
    routes = routes or {}
    if model == AUTO and default:
        model = default
    if model in routes:
        r = routes[model]
        steps = [(p, m) for p, m in r.steps if p in models and p in chain]
        return Resolved(r.name, [p for p, _ in steps], dict(steps), r.overflow)
    names = route(model, models=models, chain=chain, extra=route_models(routes))
    pinned = model.partition("/")[2] if "/" in model else None
    named = None if model == AUTO else names[0]
    return Resolved(model, names, {names[0]: pinned} if pinned else {}, named=named)


def route(
    model: str,
    *,
    models: Mapping[str, str],
    chain: Sequence[str],
    extra: Mapping[str, set[str]] | None = None,
) -> list[str]:
    """Provider names to try, in order. `models`: configured provider -> model; `chain`: the
    operators' current order. A provider name leads the chain; provider/model is that alone
    (its configured model, or one a route gives it: `extra`).
    """
    chain = [name for name in chain if name in models]
    if model == AUTO:
        return chain
    if model in models:
        return [model] + [name for name in chain if name != model]
    name, _, pinned = model.partition("/")
    if name in models and (pinned == models[name] or pinned in (extra or {}).get(name, ())):
        return [name]
    raise UnknownModel(f"The model `{model[:200]}` does not exist; GET /v1/models lists them.")


def route_models(routes: Mapping[str, Route]) -> dict[str, set[str]]:
    """provider -> the models routes call it with."""
    found: dict[str, set[str]] = {}
    for r in routes.values():
        for provider, model in r.steps:
            found.setdefault(provider, set()).add(model)
    return found


def model_ids(models: Mapping[str, str], routes: Mapping[str, Route] | None = None) -> list[dict]:
    """The names a caller may send: auto, each route, then each provider and its provider/model
    pairs (its configured model first, then the others routes give it)."""
    ids = [{"id": AUTO, "owned_by": "d8"}]
    ids += [{"id": name, "owned_by": "d8"} for name in routes or {}]
    extra = route_models(routes or {})
    for name, model in models.items():
        pairs = [model, *sorted(extra.get(name, set()) - {model})]
        ids += [{"id": name, "owned_by": name}]
        ids += [{"id": f"{name}/{m}", "owned_by": name} for m in pairs]
    return ids


def skipped(name: str, lacking) -> Attempt:
    """The attempt recorded for a provider skipped because it lacks what the request needs."""
    reason = f"{name} does not support {', '.join(sorted(lacking))}"
    return Attempt(name, "-", "unsupported", None, 0.0, reason, refused=True)


def in_route_order(order: Sequence[str], attempts) -> tuple[Attempt, ...]:
    """Attempts sorted by the route's provider order, each provider's own order kept."""
    rank = {name: i for i, name in enumerate(order)}
    return tuple(sorted(attempts, key=lambda a: rank.get(a.provider, len(order))))
