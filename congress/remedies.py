"""Remedies other apps can carry out, registered by name so congress imports none of them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Remedy = Callable[..., dict]  # func(*, actor: str, **args) -> what changed


@dataclass(frozen=True, slots=True)
class Registered:
    name: str
    func: Remedy
    description: str


_registry: dict[str, Registered] = {}


class UnknownRemedy(LookupError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"No remedy named '{name}' is registered.")


def register(name: str, func: Remedy, description: str) -> None:
    """Make `func` available to approved proposals as `name` (idempotent)."""
    _registry[name] = Registered(name, func, description)


def get(name: str) -> Registered:
    try:
        return _registry[name]
    except KeyError:
        raise UnknownRemedy(name) from None


def names() -> list[str]:
    return sorted(_registry)


def describe() -> dict[str, str]:
    return {name: r.description for name, r in sorted(_registry.items())}
