"""A request no provider served: what its 503 says, and whether it is an incident at all.

"Every provider failed" is said only of a request whose providers were every enabled one. A
narrower request (a pinned `provider/model`, a named route, a FallbackConfig's priority) whose
providers were all cooling called nobody: it is no incident, so nothing escalates or alerts,
and its 503 names the providers, how long each still cools and why. Its failed calls, when it
made some, count toward the repeated-error and failure-rate triggers like any other failure.
"""

from __future__ import annotations

import math

from ..core.errors import AllProvidersFailed, ChatFailed
from ..models import ProviderHealth
from .triggers import escalation_after_failure


def unserved_escalate(*, engine, enabled: list[str], error: ChatFailed, request, config=None):
    """escalation_after_failure for a request `engine` could not serve (sets error.escalation);
    `enabled`: every provider operators have enabled. An AllProvidersFailed that called nobody
    has its reason rewritten to say who is cooling, for how long and why."""
    if not isinstance(error, AllProvidersFailed) or not engine.providers:
        return escalation_after_failure(error=error, request=request, config=config)
    called = [a for a in error.attempts if a.error_type != "unsupported"]
    if not called:
        error.reason = cooling_reason(engine)
    if set(enabled) <= {p.name for p in engine.providers}:
        return escalation_after_failure(error=error, request=request, config=config)
    error.escalation = None
    if called:  # real failures of a narrower route: counted, never "every provider failed"
        partial = ChatFailed(error.reason)
        partial.attempts = error.attempts
        escalation_after_failure(error=partial, request=request, config=config)
        error.escalation = partial.escalation
    return None


def cooling_reason(engine) -> str:
    """'groq is cooling down for 37 s after rate_limit': each of the engine's providers, from
    the same state the engine skipped it by."""
    now = engine.clock()
    why = dict(
        ProviderHealth.objects.filter(name__in=[p.name for p in engine.providers]).values_list(
            "name", "last_error_type"
        )
    )
    parts = [_provider_reason(engine, p, now, why.get(p.name) or "") for p in engine.providers]
    return "; ".join(parts) + " (no provider was called)"


def _provider_reason(engine, provider, now: float, error_type: str) -> str:
    states = [engine.store.state(provider.name, k.label, now=now) for k in provider.keys]
    after = f" after {error_type}" if error_type else ""
    waits = [s.cooldown_until - now for s in states if not s.unavailable]
    if not waits:
        return f"{provider.name} is unavailable{after} until an operator resets it"
    wait = min(waits)
    if wait <= 0:  # free again, but another request holds its recovery probe
        return f"{provider.name} is recovering{after}: one request is probing it"
    return f"{provider.name} is cooling down for {math.ceil(wait)} s{after}"
