"""Which providers a /v1 `model` name means: "auto", a provider name, or provider/model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .types import Attempt

AUTO = "auto"


class UnknownModel(LookupError):
    """`model` names no route: not "auto", a configured provider, or its provider/model."""


def route(model: str, *, models: Mapping[str, str], chain: Sequence[str]) -> list[str]:
    """Provider names to try, in order. `models`: configured provider -> model; `chain`: the
    operators' current order. A provider name leads the chain; provider/model is that alone.
    """
    chain = [name for name in chain if name in models]
    if model == AUTO:
        return chain
    if model in models:
        return [model] + [name for name in chain if name != model]
    name, _, pinned = model.partition("/")
    if name in models and pinned == models[name]:
        return [name]
    raise UnknownModel(f"The model `{model[:200]}` does not exist; GET /v1/models lists them.")


def model_ids(models: Mapping[str, str]) -> list[dict]:
    """The routes: auto, then each provider and its provider/model (id and owner)."""
    ids = [{"id": AUTO, "owned_by": "d8"}]
    for name, model in models.items():
        ids += [{"id": name, "owned_by": name}, {"id": f"{name}/{model}", "owned_by": name}]
    return ids


def skipped(name: str, lacking) -> Attempt:
    """The attempt recorded for a provider skipped because it lacks what the request needs."""
    reason = f"{name} does not support {', '.join(sorted(lacking))}"
    return Attempt(name, "-", "unsupported", None, 0.0, reason, refused=True)


def in_route_order(order: Sequence[str], attempts) -> tuple[Attempt, ...]:
    """Attempts sorted by the route's provider order, each provider's own order kept."""
    rank = {name: i for i, name in enumerate(order)}
    return tuple(sorted(attempts, key=lambda a: rank.get(a.provider, len(order))))
