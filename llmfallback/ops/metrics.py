"""GET /metrics in Prometheus' text format, read from the shared database at scrape time.

Every value comes from rows all workers and machines write (health rows, counters, usage buckets,
error history), so any worker answers the same and no process keeps metric state: no
prometheus_client multiprocess directory to share, clean or lose when a worker is killed.

Other modules add their families with `register(fn)`: `fn()` returns an iterable of
prometheus_client metric families (e.g. `CounterMetricFamily`) and is called on every scrape.
Register at import time of a module Django always loads (an AppConfig.ready() or a module the
URLconf imports), read the database like the families here, and pick names no other family uses
(a duplicate name makes the whole page invalid for Prometheus).
"""

from __future__ import annotations

import hmac
import ipaddress
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Count, Sum
from django.http import Http404, HttpResponse, HttpResponseForbidden
from django.utils import timezone
from django.views.decorators.http import require_safe
from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.utils import floatToGoString

from .. import models
from ..models import Counter, ErrorEvent, Escalation, KeyHealth, ProviderHealth, UsageBucket
from . import web_metrics

# Failures by class and latency are read over the last minutes, not the whole history: the
# error history and usage buckets are pruned (LLM_ERROR_HISTORY_KEEP_DAYS), so a sum over all
# rows would fall at each prune and look like a counter reset; and the window reads only a few
# rows through the indexes on created_at and minute, never a 30-day table scan per scrape.
WINDOW_MINUTES = 5

MetricSource = Callable[[], Iterable[Metric]]
EXTRA_COLLECTORS: list[MetricSource] = []


def register(source: MetricSource) -> MetricSource:
    """Adds a family source to every scrape (usable as a decorator); registering twice is a no-op."""
    if source not in EXTRA_COLLECTORS:
        EXTRA_COLLECTORS.append(source)
    return source


def latency_columns() -> tuple[str, ...]:
    """UsageBucket's histogram columns in bound order, the open bucket last."""
    return tuple(models.LATENCY_COLUMNS)


class DatabaseCollector:
    """A prometheus_client collector whose `collect()` queries the database on each scrape."""

    def __init__(self, clock: Callable[[], datetime] = timezone.now) -> None:
        self.clock = clock

    def collect(self) -> Iterable[Metric]:
        now = self.clock()
        yield from health_families(now)
        yield from failure_families(now)
        yield latency_family(now)
        yield from gateway_families()
        yield from agent_families()
        yield from cache_families()
        yield from web_metrics.web_families()
        for source in list(EXTRA_COLLECTORS):
            yield from source()


def health_families(now: datetime) -> Iterable[Metric]:
    """Attempts by outcome, cooldown seconds left and state, per provider and per key."""
    by_provider = CounterMetricFamily(
        "llm_provider_requests", "Provider attempts by outcome.", labels=["provider", "outcome"]
    )
    by_key = CounterMetricFamily(
        "llm_key_requests",
        "Attempts by provider, key label and outcome.",
        labels=["provider", "key", "outcome"],
    )
    p_left = GaugeMetricFamily(
        "llm_provider_cooldown_seconds", "Seconds of cooldown left (0 = none).", labels=["provider"]
    )
    k_left = GaugeMetricFamily(
        "llm_key_cooldown_seconds",
        "Seconds of cooldown left (0 = none).",
        labels=["provider", "key"],
    )
    p_state = GaugeMetricFamily(
        "llm_provider_state", "1 for the provider's current state.", labels=["provider", "state"]
    )
    k_state = GaugeMetricFamily(
        "llm_key_state", "1 for the key's current state.", labels=["provider", "key", "state"]
    )
    for row in ProviderHealth.objects.all():
        _outcomes(by_provider, [row.name], row)
        p_left.add_metric([row.name], _left(row.cooldown_until, now))
        _states(p_state, [row.name], _state(row, now, enabled=row.is_enabled))
    for row in KeyHealth.objects.select_related("provider"):
        labels = [row.provider.name, row.label]
        _outcomes(by_key, labels, row)
        k_left.add_metric(labels, _left(row.cooldown_until, now))
        _states(k_state, labels, _state(row, now, enabled=True))
    return [by_provider, by_key, p_left, k_left, p_state, k_state]


STATES = ("ok", "cooling", "unavailable", "disabled")


def _outcomes(family, labels: list[str], row) -> None:
    failures = min(row.total_failures, row.total_requests)
    family.add_metric([*labels, "success"], row.total_requests - failures)
    family.add_metric([*labels, "failure"], failures)


def _left(until: datetime | None, now: datetime) -> float:
    return max(0.0, (until - now).total_seconds()) if until else 0.0


def _state(row, now: datetime, *, enabled: bool) -> str:
    if not enabled:
        return "disabled"
    if row.is_unavailable:
        return "unavailable"
    return "cooling" if _left(row.cooldown_until, now) > 0 else "ok"


def _states(family, labels: list[str], current: str) -> None:
    for state in STATES:
        family.add_metric([*labels, state], int(state == current))


def window_start(now: datetime) -> datetime:
    """The first minute of the window: the current minute and the WINDOW_MINUTES - 1 before it."""
    return now.replace(second=0, microsecond=0) - timedelta(minutes=WINDOW_MINUTES - 1)


def failure_families(now: datetime) -> Iterable[Metric]:
    """Failed attempts by provider and error class in the window: one indexed GROUP BY."""
    family = GaugeMetricFamily(
        "llm_provider_failures_recent",
        f"Failed attempts by provider and error class, this minute and the {WINDOW_MINUTES - 1} before.",
        labels=["provider", "error_type"],
    )
    rows = (
        ErrorEvent.objects.filter(created_at__gte=window_start(now))
        .order_by()
        .values("provider", "error_type")
        .annotate(n=Count("id"))
    )
    for row in rows:
        family.add_metric([row["provider"], row["error_type"]], row["n"])
    return [family]


def latency_family(now: datetime) -> Metric:
    """Attempt latency per provider in the window, from the usage buckets' histogram columns."""
    family = HistogramMetricFamily(
        "llm_provider_latency_seconds",
        f"Attempt latency per provider, this minute and the {WINDOW_MINUTES - 1} before (a window: "
        "use histogram_quantile on the buckets directly, without rate()).",
        labels=["provider"],
    )
    columns = latency_columns()
    # Aliased: an annotation may not take the name of a model field.
    sums = {f"sum_{c}": Sum(c) for c in (*columns, "latency_sum_ms")}
    rows = (
        UsageBucket.objects.filter(minute__gte=window_start(now))
        .exclude(provider="")  # the gateway's own row counts whole requests, not attempts
        .order_by()
        .values("provider")
        .annotate(**sums)
    )
    for row in rows:
        buckets = cumulative_buckets([row[f"sum_{c}"] or 0 for c in columns])
        family.add_metric([row["provider"]], buckets, (row["sum_latency_sum_ms"] or 0) / 1000)
    return family


def cumulative_buckets(counts: list[int]) -> list[tuple[str, int]]:
    """Per-bucket counts (bounds in ms, the open bucket last) as Prometheus' cumulative `le`s."""
    # Bounds are whole microseconds: round away float noise (le="0.00144", not 0.0014399999999999999).
    bounds = [floatToGoString(round(b / 1000, 6)) for b in models.LATENCY_BOUNDS_MS] + ["+Inf"]
    running, out = 0, []
    for bound, n in zip(bounds, counts, strict=True):
        running += n
        out.append((bound, running))
    return out


def gateway_families() -> Iterable[Metric]:
    """Whole gateway requests, escalations filed and the one open (0 or 1)."""
    counters = dict(Counter.objects.values_list("name", "value"))
    requests = CounterMetricFamily("llm_gateway_requests", "Gateway requests, served or failed.")
    requests.add_metric([], counters.get("requests", 0))
    total = CounterMetricFamily("llm_escalations", "Escalations opened to the Congress.")
    total.add_metric([], counters.get("escalations", 0))
    open_now = GaugeMetricFamily("llm_escalations_open", "Escalations open now.")
    open_now.add_metric([], Escalation.objects.filter(status=Escalation.Status.OPEN).count())
    return [requests, total, open_now]


COLLECTOR = DatabaseCollector()
REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(COLLECTOR)


@require_safe
def metrics_view(request):
    """The scrape endpoint: a 404 unless a token or an allow-list is set, a 403 to others."""
    token, allow = settings.LLM_METRICS_TOKEN, settings.LLM_METRICS_ALLOW
    if not (token or allow):
        raise Http404  # nothing configured: the endpoint does not exist
    if not (_token_ok(request, token) or _address_ok(request, allow)):
        return HttpResponseForbidden("forbidden\n", content_type="text/plain")
    # The text format 0.0.4 that every Prometheus reads, or OpenMetrics when the scraper asks.
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encode(REGISTRY), content_type=content_type)


def _token_ok(request, token: str) -> bool:
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    if not token or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(value.strip().encode(), token.encode())


def _address_ok(request, allow: list[str]) -> bool:
    # REMOTE_ADDR only: X-Forwarded-For is written by the caller, so trusting it would let anyone
    # in. Behind a proxy, REMOTE_ADDR is the proxy: use the token there.
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    address = getattr(address, "ipv4_mapped", None) or address  # ::ffff:10.0.0.1 is 10.0.0.1
    return any(address in network for network in allowed_networks(tuple(allow)))


def allowed_networks(allow: tuple[str, ...]) -> list:
    """LLM_METRICS_ALLOW parsed; a bad entry is a configuration error, never silently skipped."""
    try:
        return [ipaddress.ip_network(entry, strict=False) for entry in allow]
    except ValueError as e:
        raise ImproperlyConfigured(f"LLM_METRICS_ALLOW: {e}") from e


def agent_families() -> Iterable[Metric]:
    """Requests and tokens per active agent key, where the limiter keeps them (Redis or the row)."""
    from llmfallback.access import limits

    requests = CounterMetricFamily(
        "llm_agent_requests", "Requests per agent key, whatever their outcome.", labels=["agent"]
    )
    tokens = CounterMetricFamily(
        "llm_agent_tokens", "Tokens answered per agent key.", labels=["agent"]
    )
    now = time.time()
    for agent in models.AgentKey.objects.filter(revoked_at=None):
        usage = limits.usage(agent, now=now)
        requests.add_metric([agent.name], usage.requests_total)
        tokens.add_metric([agent.name], usage.tokens_total)
    yield requests
    yield tokens


def cache_families() -> Iterable[Metric]:
    """The response cache's hits and misses (Counter rows shared by every worker)."""
    from llmfallback.selectors import cache_counts

    counts = cache_counts()
    for outcome in ("hits", "misses"):
        family = CounterMetricFamily(f"llm_cache_{outcome}", f"Response cache {outcome}.")
        family.add_metric([], counts[outcome])
        yield family
