"""Counts that only ever grow: named counters and the per-minute usage buckets (requests,
failures, latency histogram). An UPDATE adds; the first writer of a row inserts it, and a
writer that loses that race adds to the winner's row instead."""

from __future__ import annotations

from collections import Counter as Tally
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F

from llmfallback.core.percentiles import bucket_index
from llmfallback.models import LATENCY_BOUNDS_MS, LATENCY_COLUMNS, Counter, UsageBucket


def counter_add(name: str, n: int = 1) -> None:
    if not Counter.objects.filter(name=name).update(value=F("value") + n):
        _create_or_update(Counter, {"name": name}, {"value": n}, {"value": F("value") + n})


def bucket_add(provider: str, at: datetime, *, latency_ms: float, failed: bool) -> None:
    columns = Tally([latency_column(latency_ms)])
    buckets_add(
        provider, at, requests=1, failures=int(failed), latency_sum_ms=latency_ms, columns=columns
    )


def buckets_add(
    provider, at, *, requests: int, failures: int, latency_sum_ms: float, columns
) -> None:
    initial = {
        "requests": requests,
        "failures": failures,
        "latency_sum_ms": latency_sum_ms,
        **columns,
    }
    increments = {name: F(name) + n for name, n in initial.items()}
    lookup = {"provider": provider, "minute": at.replace(second=0, microsecond=0)}
    if not UsageBucket.objects.filter(**lookup).update(**increments):
        _create_or_update(UsageBucket, lookup, initial, increments)


def _create_or_update(model, lookup: dict, initial: dict, increments: dict) -> None:
    """Insert the row; if another worker inserted it first, add to theirs instead."""
    try:
        with transaction.atomic():
            model.objects.create(**lookup, **initial)
    except IntegrityError:
        model.objects.filter(**lookup).update(**increments)


def latency_column(latency_ms: float) -> str:
    """The one histogram column an attempt increments (a bisection over 62 bounds)."""
    return LATENCY_COLUMNS[bucket_index(LATENCY_BOUNDS_MS, latency_ms)]
