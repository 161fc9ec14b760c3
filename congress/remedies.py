"""Remedies other apps can carry out, registered by name so congress imports none of them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Remedy = Callable[..., dict]  # func(*, actor: str, proposal: str, **args) -> what changed
# check(**args) -> None; raises InvalidRemedy with the reason when the args would do nothing useful
Check = Callable[..., None]


@dataclass(frozen=True, slots=True)
class Registered:
    name: str
    func: Remedy
    description: str
    check: Check | None = None


_registry: dict[str, Registered] = {}


class UnknownRemedy(LookupError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"No remedy named '{name}' is registered.")


class InvalidRemedy(ValueError):
    """Remedy arguments that cannot be carried out (an unknown provider, a threshold not raised)."""


def register(name: str, func: Remedy, description: str, check: Check | None = None) -> None:
    """Make `func` available to approved proposals as `name` (idempotent)."""
    _registry[name] = Registered(name, func, description, check)


def validate(name: str, args: dict) -> None:
    """Raise UnknownRemedy or InvalidRemedy (with the reason) unless `args` fit remedy `name`."""
    remedy = get(name)
    if not isinstance(args, dict):
        raise InvalidRemedy("remedy_args must be an object.")
    try:
        if remedy.check is not None:
            remedy.check(**args)
    except TypeError as e:  # missing or unexpected argument names
        raise InvalidRemedy(f"Arguments do not fit '{name}': {e}") from None


def get(name: str) -> Registered:
    try:
        return _registry[name]
    except KeyError:
        raise UnknownRemedy(name) from None


def names() -> list[str]:
    return sorted(_registry)


def describe() -> dict[str, str]:
    return {name: r.description for name, r in sorted(_registry.items())}
