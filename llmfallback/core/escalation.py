"""When to escalate to the Congress, and what to suggest: pure decisions over counts."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Trigger(StrEnum):
    ALL_FAILED = "all_failed"
    REPEATED_ERROR = "repeated_error"
    FAILURE_RATE = "failure_rate"


LASTING = ("auth", "quota")  # failure classes that do not heal by waiting


@dataclass(frozen=True, slots=True)
class Thresholds:
    failures: int = 10  # failures within the window
    repeated_error: int = 5  # the same (provider, class) within the window
    window_s: int = 300


@dataclass(frozen=True, slots=True)
class Counts:
    """What happened within the window, as counted from the error history."""

    all_failed: bool  # the request at hand was served by no provider
    failures: int
    by_error: dict[tuple[str, str], int]  # (provider, error class) -> count


@dataclass(frozen=True, slots=True)
class Decision:
    trigger: Trigger
    reason: str
    providers: tuple[str, ...]  # who is blamed; empty = every provider


@dataclass(frozen=True, slots=True)
class Remedy:
    name: str
    args: dict
    why: str


def decide(counts: Counts, thresholds: Thresholds) -> Decision | None:
    """The first trigger that holds, in the seed's order, or None."""
    if counts.all_failed:
        return Decision(Trigger.ALL_FAILED, "every provider failed the request", ())
    repeated = [(pe, n) for pe, n in counts.by_error.items() if n >= thresholds.repeated_error]
    if repeated:
        (provider, kind), n = max(repeated, key=lambda item: item[1])
        reason = f"{provider} failed with {kind} {n} times in {thresholds.window_s}s"
        return Decision(Trigger.REPEATED_ERROR, reason, (provider,))
    if counts.failures >= thresholds.failures:
        providers = tuple(sorted({p for p, _ in counts.by_error}))
        reason = f"{counts.failures} failures in {thresholds.window_s}s"
        return Decision(Trigger.FAILURE_RATE, reason, providers)
    return None


def suggest(
    decision: Decision, by_error: dict[tuple[str, str], int], thresholds: Thresholds
) -> list[Remedy]:
    """Concrete remedies, most fitting first (the first is what the proposal carries)."""
    # A failure that waiting cannot heal (auth, quota) outranks any number of transient ones.
    worst = max(by_error, key=lambda pe: (pe[1] in LASTING, by_error[pe])) if by_error else None
    if worst is None:
        return [
            Remedy(
                "threshold_raise",
                {"name": "congress_threshold_failures", "value": thresholds.failures * 2},
                "no provider error on record: the escalation may be noise",
            )
        ]
    provider, kind = worst
    reset = Remedy(
        "provider_cooldown_reset",
        {"provider": provider},
        f"retry {provider} now instead of waiting",
    )
    demote = Remedy("provider_demote", {"provider": provider}, f"try {provider} after the others")
    disable = Remedy(
        "provider_disable",
        {"provider": provider},
        f"stop calling {provider} until a person enables it",
    )
    raise_ = Remedy(
        "threshold_raise",
        {"name": "congress_threshold_failures", "value": thresholds.failures * 2},
        "escalate less eagerly if these failures are expected",
    )
    if kind in LASTING:
        return [disable, demote, reset, raise_]
    if kind == "rate_limit" and decision.trigger is not Trigger.ALL_FAILED:
        return [demote, reset, disable, raise_]
    return [reset, demote, disable, raise_]
