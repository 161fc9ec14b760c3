"""How long a provider (or one of its keys) rests after each class of failure."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import KEY_SCOPED, ErrorKind, ProviderError


@dataclass(frozen=True, slots=True)
class Decision:
    until: float | None  # epoch seconds; None: no cooldown
    unavailable: bool = False  # only a human reset brings it back
    scope: str = "provider"  # "key" for failures that belong to one API key


@dataclass
class CooldownPolicy:
    """Per-class cooldowns as in PROVIDERS.md; a provider's own hint is always a floor."""

    rate_limit_s: float = 60.0
    quota_s: float = 3 * 3600.0
    timeout_s: float = 30.0
    adaptive_base_s: float = 10.0
    adaptive_cap_s: float = 300.0
    unknown_base_s: float = 5.0
    unknown_cap_s: float = 80.0
    jitter: float = 0.1  # up to +10 %, so many workers do not return at the same instant
    rng: Callable[[], float] = field(default=random.random)

    def decide(self, error: ProviderError, *, episodes: int, now: float) -> Decision:
        """Cooldown for `error`; `episodes`: the provider's cooldowns since its last success."""
        scope = "key" if error.kind in KEY_SCOPED else "provider"
        if error.kind is ErrorKind.AUTH:
            return Decision(until=None, unavailable=True, scope=scope)
        if not error.cools_down:
            return Decision(until=None, scope=scope)
        seconds = self._seconds(error, episodes)
        # Jitter only adds: never come back before the provider said we may.
        return Decision(until=now + seconds * (1 + self.jitter * self.rng()), scope=scope)

    def _seconds(self, error: ProviderError, episodes: int) -> float:
        hint = error.retry_after
        if error.kind in KEY_SCOPED and hint is not None:
            return max(hint, 0.0)  # the provider named its reset: 2 s means 2 s, not our 60 s
        return max(self._base(error.kind, episodes), hint or 0.0)

    def _base(self, kind: ErrorKind, episodes: int) -> float:
        if kind is ErrorKind.RATE_LIMIT:
            return self.rate_limit_s
        if kind is ErrorKind.QUOTA:
            return self.quota_s
        if kind is ErrorKind.TIMEOUT:
            return self.timeout_s
        if kind is ErrorKind.UNKNOWN:
            return min(self.unknown_base_s * 2**episodes, self.unknown_cap_s)
        return min(self.adaptive_base_s * 2**episodes, self.adaptive_cap_s)
