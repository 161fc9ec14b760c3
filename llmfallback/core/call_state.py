"""One chat call's state as the engine tries providers: what it has seen, its probe lease, and
the small helpers both the whole-answer and the streaming engines share."""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import ProviderError
from .ports import ApiKey, KeyState
from .types import Attempt, ChatRequest


class Skip(Exception):
    """Move on to the next provider without touching its other keys."""


@dataclass
class Call:
    """What one chat call has seen so far."""

    request: ChatRequest
    deadline: float
    attempts: list[Attempt] = field(default_factory=list)
    refusals: list[tuple[str, ProviderError]] = field(default_factory=list)
    provider_faults: int = 0  # failures that were a provider's own fault
    more: bool = False  # another provider comes after the one being tried


@dataclass
class Probe:
    """Whether this request holds a recovering provider's probe lease, and how it went."""

    held: bool = False
    healthy: bool = False


def blocked(state: KeyState, now: float) -> bool:
    return state.unavailable or state.cooldown_until > now


def attempt_of(provider, key: ApiKey, error: ProviderError, latency_ms: float) -> Attempt:
    return Attempt(
        provider.name,
        key.label,
        error.kind.value,
        error.status,
        latency_ms,
        error.message,
        refused=error.refuses_request,
    )
