"""What the engine needs from the outside world: providers, a health store, a clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from .errors import ProviderError
from .types import ChatRequest, Completion, Timeouts


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One credential of a provider. `label` is what humans and logs see; `secret` never leaves here."""

    label: str
    secret: str = field(default="", repr=False)


class Provider(Protocol):
    name: str
    model: str
    keys: tuple[ApiKey, ...]  # at least one; ApiKey("default") for servers without a key
    missing: str  # "" when configured, else what is missing ("GROQ_API_KEY")

    def chat(self, request: ChatRequest, *, key: ApiKey, timeouts: Timeouts) -> Completion:
        """Call the provider once; raise a ProviderError subclass on any failure."""
        ...


@dataclass(frozen=True, slots=True)
class KeyState:
    """What the store knows about one provider key right now (provider-wide state folded in)."""

    cooldown_until: float = 0.0  # epoch seconds; 0 = none
    unavailable: bool = False  # auth failure or disabled: only a human reset clears it
    # The provider's cooldown episodes since its last success: adaptive cooldowns grow with
    # these, not with the failures of requests that were in flight together.
    episodes: int = 0
    # The provider is recovering (cooldown episodes since its last success) and its probe slot
    # is open: the one request that takes the lease may call it, whether or not its cooldown has
    # ended (a probe comes at least every probe interval). False on the steady healthy path.
    probe_due: bool = False
    # The provider's lease is taken: a request is probing it, or retrying it after a first
    # failure (it is suspect), or its next probe is not due yet. Others leave it be.
    leased: bool = False
    key_until: float = 0.0  # this key's own cooldown (a named wait): never probed past


@dataclass(frozen=True, slots=True)
class Failure:
    provider: str
    key: str
    error: ProviderError
    latency_ms: float
    cooldown_until: float | None  # None: no cooldown for this failure
    scope: str  # "key" or "provider": what the cooldown applies to
    unavailable: bool = False
    # True when this failure cools the provider for good (not a retry's wait): it starts a new
    # cooldown episode unless one is already running.
    episode: bool = False
    # When a new episode starts: the first moment a probe may call the provider again.
    probe_at: float | None = None


class HealthStore(Protocol):
    """Shared provider health. Every worker reads and writes the same state."""

    def state(self, provider: str, key: str, *, now: float) -> KeyState: ...

    def record_success(self, provider: str, key: str, *, latency_ms: float, now: float) -> None: ...

    def record_failure(self, failure: Failure, *, now: float) -> None: ...

    def try_acquire_probe(self, provider: str, *, now: float, lease_s: float) -> bool:
        """Take the provider's lease if it is free: atomic across every worker, so exactly one
        request probes a recovering provider, or retries a suspect one."""
        ...

    def end_probe(self, provider: str, *, healthy: bool, now: float, next_s: float = 0.0) -> None:
        """Release the lease. `healthy` (the call succeeded) also ends the provider's cooldown
        and closes the half-open state; otherwise the next probe may come in `next_s` (or when
        the cooldown ends, if sooner)."""
        ...
