"""Read-only queries for the API, the dashboard and the terminal."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from llmfallback.access import limits

from .core.percentiles import histogram_percentile
from .models import (
    LATENCY_BOUNDS_MS,
    LATENCY_COLUMNS,
    AgentKey,
    Counter,
    ErrorEvent,
    ProviderHealth,
    UsageBucket,
)

RECENT_ERRORS = 50  # the seed kept the last 50
LATENCY_WINDOW = timedelta(hours=24)  # p50/p95 in health, the cards and llm_health
NO_LATENCY = {"p50": None, "p95": None}


def counter_value(name: str) -> int:
    return Counter.objects.filter(name=name).values_list("value", flat=True).first() or 0


def cache_counts() -> dict[str, int]:
    """The response cache's lifetime hits and misses (ops/cache.py), in one query."""
    rows = dict(
        Counter.objects.filter(name__in=("cache_hits", "cache_misses")).values_list("name", "value")
    )
    return {"hits": rows.get("cache_hits", 0), "misses": rows.get("cache_misses", 0)}


def error_dict(event: ErrorEvent) -> dict:
    return {
        "timestamp": event.created_at.isoformat(),
        "provider": event.provider,
        "key": event.key,
        "error_type": event.error_type,
        "status": event.status,
        "message": event.message,
        "latency_ms": round(event.latency_ms, 1),
    }


def recent_errors(
    *, limit: int = RECENT_ERRORS, provider: str = "", error_type: str = ""
) -> list[dict]:
    events = ErrorEvent.objects.all()
    if provider:
        events = events.filter(provider=provider)
    if error_type:
        events = events.filter(error_type=error_type)
    return [error_dict(e) for e in events[:limit]]


def provider_dict(row: ProviderHealth | None, config, now, latency: dict = NO_LATENCY) -> dict:
    """One provider's health in the seed's shape plus cooldown, configuration and keys."""
    keys = {k.label: k for k in row.keys.all()} if row else {}
    key_states = {label: key_dict(keys.get(label), now) for label in (k.label for k in config.keys)}
    usable = [s for s in key_states.values() if s["is_available"] and not s["in_cooldown"]]
    until = _effective_until(row, [keys[k] for k in keys if k in key_states], usable, now)
    total = row.total_requests if row else 0
    failures = row.total_failures if row else 0
    return {
        "is_available": bool(
            row and row.is_enabled and not row.is_unavailable and not config.missing and usable
        ),
        "is_enabled": row.is_enabled if row else True,
        "configured": not config.missing,
        "missing": config.missing,
        "model": config.model,
        "consecutive_failures": row.consecutive_failures if row else 0,
        # Cooldowns since the last success: what the next adaptive cooldown doubles from.
        "cooldown_episodes": row.cooldown_episodes if row else 0,
        "total_requests": total,
        "total_failures": failures,
        # No requests, no rate: null, not a 0 % that reads as "always fails".
        "success_rate": round(100.0 * (total - failures) / total, 1) if total else None,
        "avg_latency_ms": _avg_latency(row),
        "p50_latency_ms": latency["p50"],  # over the last 24 h, from the usage histograms
        "p95_latency_ms": latency["p95"],
        "in_cooldown": bool(until),
        "cooldown_until": until.isoformat() if until else None,
        "cooldown_remaining_s": _remaining(until, now),
        "last_error_type": (row.last_error_type or None) if row else None,
        "last_error": (row.last_error_message or None) if row else None,
        "last_error_at": row.last_error_at.isoformat() if row and row.last_error_at else None,
        "keys": key_states,
    }


def _effective_until(row, key_rows, usable, now):
    """When the provider can next be called: its own cooldown, or its first key's if all rest."""
    own = _active(row.cooldown_until if row else None, now)
    if usable or not key_rows:
        return own
    key_untils = [
        k.cooldown_until
        for k in key_rows
        if not k.is_unavailable and _active(k.cooldown_until, now)
    ]
    if not key_untils:
        return own
    return max(own, min(key_untils)) if own else min(key_untils)


def key_dict(row, now) -> dict:
    until = _active(row.cooldown_until if row else None, now)
    return {
        "is_available": not (row and row.is_unavailable),
        "in_cooldown": bool(until),
        "cooldown_until": until.isoformat() if until else None,
        "cooldown_remaining_s": _remaining(until, now),
        "consecutive_failures": row.consecutive_failures if row else 0,
        "total_requests": row.total_requests if row else 0,
        "total_failures": row.total_failures if row else 0,
        "avg_latency_ms": _avg_latency(row),
        "last_error_type": (row.last_error_type or None) if row else None,
    }


def _avg_latency(row) -> float | None:
    return (
        round(row.latency_total_ms / row.total_requests, 1) if row and row.total_requests else None
    )


def health_report(*, now=None, viewer=None) -> dict:
    """The seed's /api/llm/health document; `agents` shows what `viewer` may see (agent_usage)."""
    now = now or timezone.now()
    # The gateway's counter first, the providers after: a success batch updates both in one
    # transaction, so the providers read here are never behind the total shown beside them.
    total_requests = counter_value("requests")
    rows = {r.name: r for r in ProviderHealth.objects.prefetch_related("keys")}
    rank = {c.name: i for i, c in enumerate(settings.LLM_PROVIDERS)}
    configs = sorted(
        settings.LLM_PROVIDERS, key=lambda c: _priority(rows.get(c.name), rank[c.name])
    )
    latency = latency_percentiles(since=now - LATENCY_WINDOW)
    return {
        "timestamp": now.isoformat(),
        "total_requests": total_requests,
        "congress_escalations": counter_value("escalations"),
        "cache": cache_counts(),
        "providers": {
            c.name: provider_dict(rows.get(c.name), c, now, latency.get(c.name, NO_LATENCY))
            for c in configs
        },
        "recent_errors": recent_errors(),
        "agents": agent_usage(viewer=viewer, now=now),
    }


def agent_usage(*, viewer, now) -> list[dict]:
    """Each active agent key's limits and usage: all of them for operator keys and staff, an
    agent's own only for an agent. Names only, never a key or its hash."""
    if getattr(viewer, "is_operator", False) or getattr(viewer, "is_staff", False):
        keys = AgentKey.objects.filter(revoked_at=None)
    elif isinstance(viewer, AgentKey):
        keys = AgentKey.objects.filter(pk=viewer.pk)
    else:
        return []
    return [agent_dict(key, limits.usage(key, now=now.timestamp())) for key in keys]


def agent_dict(key: AgentKey, used) -> dict:
    return {
        "name": key.name,
        "limits": {
            "requests_per_minute": key.rpm_limit,
            "tokens_per_day": key.tokens_per_day,
            "providers": sorted(key.provider_set) if key.provider_set else None,
        },
        "usage": {
            "requests_this_minute": used.requests_this_minute,
            "tokens_today": used.tokens_today,
            "requests_total": used.requests_total,
            "tokens_total": used.tokens_total,
        },
    }


def latency_percentiles(*, since: datetime) -> dict[str, dict]:
    """p50 and p95 (ms) per provider from the usage histograms since `since`."""
    sums = (
        UsageBucket.objects.filter(minute__gte=since)
        .values("provider")
        .annotate(**{c: Sum(c) for c in LATENCY_COLUMNS})
    )
    result = {}
    for row in sums:
        counts = [row[c] or 0 for c in LATENCY_COLUMNS]
        result[row["provider"]] = {
            q: latency_round(histogram_percentile(LATENCY_BOUNDS_MS, counts, n))
            for q, n in (("p50", 50), ("p95", 95))
        }
    return result


def latency_round(ms: float | None) -> float | None:
    """Four significant figures: rounding adds at most 0.05 % to the histogram's 9.5 %."""
    return None if ms is None else float(f"{ms:.4g}")


def _priority(row, rank: int) -> tuple:
    """Operators' order; providers without a row yet (a fresh database) in the configured one."""
    return (row.priority, rank) if row else (1_000_000, rank)


def _active(until, now):
    return until if until and until > now else None


def _remaining(until, now) -> float:
    return round((until - now).total_seconds(), 1) if until else 0.0


def provider_secrets() -> tuple[str, ...]:
    """Every configured API key, for redaction: never shown, only removed from texts."""
    return tuple(k.secret for c in settings.LLM_PROVIDERS for k in c.keys if k.secret)


def provider_names() -> list[str]:
    return [c.name for c in settings.LLM_PROVIDERS]
