"""The engine's HealthStore on the ORM: one transaction per attempt, F() updates, no lost counts."""

from __future__ import annotations

import logging
from collections import Counter as Tally
from datetime import UTC, datetime

from django.db import (
    InterfaceError,
    OperationalError,
    connection,
    transaction,
)
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Coalesce, Greatest, Least

from llmfallback.core.ports import Failure, KeyState
from llmfallback.health.buffers import WriteBuffer
from llmfallback.health.counts import bucket_add, buckets_add, counter_add, latency_column
from llmfallback.health.watch import changed_here, health_watch
from llmfallback.models import (
    ErrorEvent,
    KeyHealth,
    ProviderHealth,
)
from llmfallback.off_loop import off_loop
from llmfallback.ops.alerts import alert_key_unavailable
from llmfallback.providers.redact import redact

REQUESTS = "requests"
logger = logging.getLogger(__name__)


def to_dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def to_ts(dt: datetime | None) -> float:
    return dt.timestamp() if dt else 0.0


def db_ts(value) -> float:
    """A raw cursor's datetime as epoch seconds: PostgreSQL gives datetimes, SQLite UTC text."""
    if value is None:
        return 0.0
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def _state_row(provider: str, key: str):
    try:
        return _fetch_state(provider, key)
    except (InterfaceError, OperationalError):
        if connection.in_atomic_block:
            raise
        # A persistent connection the database dropped (a restart): reconnect once.
        connection.close()
        return _fetch_state(provider, key)


def _fetch_state(provider: str, key: str):
    with connection.cursor() as cursor:
        cursor.execute(STATE_SQL, [provider, key])
        return cursor.fetchone()


STATE_SQL = f"""
SELECT k.cooldown_until, k.is_unavailable, p.cooldown_until, p.is_unavailable,
       p.is_enabled, p.cooldown_episodes, p.probe_until
FROM {KeyHealth._meta.db_table} k JOIN {ProviderHealth._meta.db_table} p ON p.id = k.provider_id
WHERE p.name = %s AND k.label = %s
"""


def later(field: str, until: datetime):
    """SQL for max(field, until): a shorter hint never shortens a running cooldown."""
    return Greatest(Coalesce(F(field), Value(until)), Value(until))


class OrmHealthStore:
    def __init__(self, secrets: tuple[str, ...] = (), success_flush_s: float = 0.0) -> None:
        self.secrets = (
            secrets  # redacted again here: no secret reaches a row, whatever an adapter did
        )
        self.successes = SuccessBuffer(success_flush_s) if success_flush_s > 0 else None

    @off_loop
    def state(self, provider: str, key: str, *, now: float) -> KeyState:
        # Asked before every attempt, so it must be fresh and cheap. On PostgreSQL a worker's
        # copy kept fresh by NOTIFY (health_watch.py); otherwise one indexed join, as plain SQL
        # (the ORM spent ~0.8 ms of CPU per call building it on a 2-core machine).
        watch = health_watch()
        row = watch.row(provider, key, _state_row) if watch else _state_row(provider, key)
        if row is None:
            return KeyState()
        key_until, key_down, prov_until, prov_down, enabled, episodes, probe_until = row
        key_until, leased = db_ts(key_until), db_ts(probe_until) > now
        return KeyState(
            cooldown_until=max(key_until, db_ts(prov_until)),
            unavailable=bool(key_down or prov_down or not enabled),
            episodes=episodes,
            # Decided from the row already read: the healthy path (no episode) costs no query.
            probe_due=episodes > 0 and not leased,
            leased=leased,
            key_until=key_until,
        )

    @off_loop
    def try_acquire_probe(self, provider: str, *, now: float, lease_s: float) -> bool:
        """One conditional UPDATE: the database picks exactly one winner among all workers."""
        at = to_dt(now)
        lease_free = Q(probe_until__isnull=True) | Q(probe_until__lte=at)
        won = ProviderHealth.objects.filter(lease_free, name=provider).update(
            probe_until=to_dt(now + lease_s)
        )
        if won:
            changed_here()  # a suspect provider: every worker must leave it be at once
        return won == 1

    @off_loop
    def end_probe(self, provider: str, *, healthy: bool, now: float, next_s: float = 0.0) -> None:
        # Written at once, not through the success buffer: the others wait on this to come back.
        if healthy:
            ended = {"cooldown_episodes": 0, "cooldown_until": None, "probe_until": None}
        else:  # the next probe in next_s, or when the cooldown ends if that is sooner
            at, next_at = to_dt(now), to_dt(now + next_s)
            cooling = Q(cooldown_until__gt=at)
            soonest = Least(F("cooldown_until"), Value(next_at))
            ended = {"probe_until": Case(When(cooling, then=soonest), default=None)}
        ProviderHealth.objects.filter(name=provider).update(**ended)
        changed_here()

    def record_success(self, provider: str, key: str, *, latency_ms: float, now: float) -> None:
        """A success ends a gateway request: count the attempt and the request together."""
        if self.successes is not None:
            self.successes.add((provider, key, latency_ms, now))
        else:
            successes_write([(provider, key, latency_ms, now)])

    @off_loop
    def record_failure(self, failure: Failure, *, now: float) -> None:
        at, error = to_dt(now), failure.error
        message = redact(error.message, self.secrets)
        blames_provider = not error.refuses_request  # a refused request is not the provider's fault
        counts = {
            "total_requests": F("total_requests") + 1,
            "latency_total_ms": F("latency_total_ms") + failure.latency_ms,
            "last_error_type": error.kind.value,
            "last_error_message": message,
            "last_error_at": at,
        }
        if blames_provider:
            counts |= {
                "total_failures": F("total_failures") + 1,
                "consecutive_failures": F("consecutive_failures") + 1,
                "last_failure_at": at,
            }
        until = to_dt(failure.cooldown_until) if failure.cooldown_until is not None else None
        with transaction.atomic():
            ProviderHealth.objects.filter(name=failure.provider).update(
                **counts, **_cooldown(failure, until, scope="provider"), **_episode(failure, at)
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
                refused=not blames_provider,
            )
            bucket_add(failure.provider, at, latency_ms=failure.latency_ms, failed=blames_provider)
        changed_here()
        alert_key_unavailable(failure)  # an auth failure took the key out: tell operators

    @off_loop
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


def _episode(failure: Failure, at: datetime) -> dict:
    """A cooling failure outside a running cooldown starts a new episode; inside one, it joins it.

    Decided in the UPDATE itself, so concurrent failures from many workers count once.
    """
    if not (failure.episode and failure.scope == "provider"):
        return {}
    episodes, running = F("cooldown_episodes"), Q(cooldown_until__gt=at)
    fields = {"cooldown_episodes": Case(When(running, then=episodes), default=episodes + 1)}
    if failure.probe_at is not None:  # a new episode: its first probe may come at probe_at
        probe_at = Value(to_dt(failure.probe_at))
        fields["probe_until"] = Case(When(running, then=F("probe_until")), default=probe_at)
    return fields


def successes_write(successes: list[tuple[str, str, float, float]]) -> None:
    """Count (provider, key, latency_ms, now) successes in one transaction.

    Rows are taken in one global order (providers, keys, then buckets with the gateway's last,
    then the counter), as record_failure does, so concurrent writers never deadlock.
    """
    buckets: dict[tuple, list[float]] = {}
    for provider, _, latency_ms, now in successes:
        minute = to_dt(now).replace(second=0, microsecond=0)
        for name in (provider, ""):
            buckets.setdefault((name == "", name, minute), []).append(latency_ms)
    last = {p: to_dt(now) for p, _, _, now in sorted(successes, key=lambda s: s[3])}
    last_key = {(p, k): to_dt(now) for p, k, _, now in sorted(successes, key=lambda s: s[3])}
    by_provider, by_key = (
        _latencies(successes, lambda s: s[0]),
        _latencies(successes, lambda s: s[:2]),
    )
    with transaction.atomic():
        for provider, latencies in sorted(by_provider.items()):
            ProviderHealth.objects.filter(name=provider).update(
                **_success_counts(latencies, last[provider]),
                cooldown_episodes=_unless_failed_since(last[provider], "cooldown_episodes"),
                last_success_at=last[provider],
            )
        for (provider, key), latencies in sorted(by_key.items()):
            KeyHealth.objects.filter(provider__name=provider, label=key).update(
                **_success_counts(latencies, last_key[provider, key])
            )
        for (_, provider, minute), latencies in sorted(buckets.items()):
            columns = Tally(latency_column(ms) for ms in latencies)
            buckets_add(
                provider,
                minute,
                requests=len(latencies),
                failures=0,
                latency_sum_ms=sum(latencies),
                columns=columns,
            )
        counter_add(REQUESTS, len(successes))


def _latencies(successes, group) -> dict:
    grouped: dict = {}
    for success in successes:
        grouped.setdefault(group(success), []).append(success[2])
    return grouped


def _success_counts(latencies: list[float], at: datetime) -> dict:
    return {
        "total_requests": F("total_requests") + len(latencies),
        "latency_total_ms": F("latency_total_ms") + sum(latencies),
        "consecutive_failures": _unless_failed_since(at, "consecutive_failures"),
    }


def _unless_failed_since(at: datetime, field: str):
    """0, unless a failure was recorded after the success at `at` (a buffered success is late)."""
    return Case(When(Q(last_failure_at__gt=at), then=F(field)), default=Value(0))


class SuccessBuffer(WriteBuffer):
    """Successes (provider, key, latency_ms, now), written by successes_write in one transaction."""

    name = "llm-successes"

    def write(self, items: list) -> None:
        successes_write(items)
