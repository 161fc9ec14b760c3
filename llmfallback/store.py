"""The engine's HealthStore on the ORM: one transaction per attempt, F() updates, no lost counts."""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce, Greatest

from .core.errors import ErrorKind
from .core.ports import Failure, KeyState
from .models import LATENCY_BOUNDS_MS, Counter, ErrorEvent, KeyHealth, ProviderHealth, UsageBucket
from .providers.redact import redact

REQUESTS = "requests"


def to_dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def to_ts(dt: datetime | None) -> float:
    return dt.timestamp() if dt else 0.0


def later(field: str, until: datetime):
    """SQL for max(field, until): a shorter hint never shortens a running cooldown."""
    return Greatest(Coalesce(F(field), Value(until)), Value(until))


class OrmHealthStore:
    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        self.secrets = secrets  # redacted again here: no secret reaches a row, whatever an adapter did

    def state(self, provider: str, key: str, *, now: float) -> KeyState:
        row = (
            KeyHealth.objects.filter(provider__name=provider, label=key)
            .values_list(
                "cooldown_until",
                "is_unavailable",
                "provider__cooldown_until",
                "provider__is_unavailable",
                "provider__is_enabled",
                "provider__consecutive_failures",
            )
            .first()
        )
        if row is None:
            return KeyState()
        key_until, key_down, prov_until, prov_down, enabled, trips = row
        return KeyState(
            cooldown_until=max(to_ts(key_until), to_ts(prov_until)),
            unavailable=key_down or prov_down or not enabled,
            trips=trips,
        )

    def record_success(self, provider: str, key: str, *, latency_ms: float, now: float) -> None:
        """A success ends a gateway request: count the attempt and the request together."""
        at = to_dt(now)
        counts = {"total_requests": F("total_requests") + 1, "consecutive_failures": 0}
        with transaction.atomic():
            ProviderHealth.objects.filter(name=provider).update(**counts, last_success_at=at)
            KeyHealth.objects.filter(provider__name=provider, label=key).update(**counts)
            bucket_add(provider, at, latency_ms=latency_ms, failed=False)
            bucket_add("", at, latency_ms=latency_ms, failed=False)
            counter_add(REQUESTS)

    def record_failure(self, failure: Failure, *, now: float) -> None:
        at, error = to_dt(now), failure.error
        message = redact(error.message, self.secrets)
        blames_provider = error.kind is not ErrorKind.BAD_REQUEST  # the caller's fault is not
        counts = {"total_requests": F("total_requests") + 1}
        if blames_provider:
            counts |= {
                "total_failures": F("total_failures") + 1,
                "consecutive_failures": F("consecutive_failures") + 1,
                "last_error_type": error.kind.value,
                "last_error_message": message,
                "last_error_at": at,
            }
        until = to_dt(failure.cooldown_until) if failure.cooldown_until is not None else None
        with transaction.atomic():
            ProviderHealth.objects.filter(name=failure.provider).update(
                **counts, **_cooldown(failure, until, scope="provider")
            )
            KeyHealth.objects.filter(provider__name=failure.provider, label=failure.key).update(
                **counts, **_cooldown(failure, until, scope="key")
            )
            ErrorEvent.objects.create(
                created_at=at,
                provider=failure.provider,
                key=failure.key,
                error_type=error.kind.value,
                status=error.status,
                message=message,
                latency_ms=failure.latency_ms,
                cooldown_until=until,
            )
            bucket_add(failure.provider, at, latency_ms=failure.latency_ms, failed=blames_provider)

    def record_request_failed(self, *, now: float, latency_ms: float) -> None:
        """A gateway request that no provider served."""
        with transaction.atomic():
            bucket_add("", to_dt(now), latency_ms=latency_ms, failed=True)
            counter_add(REQUESTS)


def _cooldown(failure: Failure, until: datetime | None, *, scope: str) -> dict:
    if failure.scope != scope:
        return {}
    fields = {}
    if until is not None:
        fields["cooldown_until"] = later("cooldown_until", until)
    if failure.unavailable:
        fields["is_unavailable"] = True
    return fields


def counter_add(name: str, n: int = 1) -> None:
    if not Counter.objects.filter(name=name).update(value=F("value") + n):
        _create_or_update(Counter, {"name": name}, {"value": n}, {"value": F("value") + n})


def bucket_add(provider: str, at: datetime, *, latency_ms: float, failed: bool) -> None:
    minute = at.replace(second=0, microsecond=0)
    column = _latency_column(latency_ms)
    increments = {
        "requests": F("requests") + 1,
        "failures": F("failures") + int(failed),
        "latency_sum_ms": F("latency_sum_ms") + latency_ms,
        column: F(column) + 1,
    }
    lookup = {"provider": provider, "minute": minute}
    if not UsageBucket.objects.filter(**lookup).update(**increments):
        initial = {"requests": 1, "failures": int(failed), "latency_sum_ms": latency_ms, column: 1}
        _create_or_update(UsageBucket, lookup, initial, increments)


def _create_or_update(model, lookup: dict, initial: dict, increments: dict) -> None:
    """Insert the row; if another worker inserted it first, add to theirs instead."""
    try:
        with transaction.atomic():
            model.objects.create(**lookup, **initial)
    except IntegrityError:
        model.objects.filter(**lookup).update(**increments)


def _latency_column(latency_ms: float) -> str:
    for bound in LATENCY_BOUNDS_MS:
        if latency_ms <= bound:
            return f"le_{bound}"
    return "le_inf"
