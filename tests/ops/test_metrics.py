"""GET /metrics: Prometheus' text format read from the shared rows, behind a token or allow-list.

Every value is read from the database at scrape time, so what one worker writes another worker's
scrape shows: the tests write rows and read them back through the endpoint, no process state.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from prometheus_client.core import CounterMetricFamily
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from llmfallback import models
from llmfallback.models import (
    Counter,
    ErrorEvent,
    Escalation,
    KeyHealth,
    ProviderHealth,
    UsageBucket,
)
from llmfallback.ops import metrics

TOKEN = "metrics-secret-token"
NOW = datetime(2026, 11, 30, 12, 0, 30, tzinfo=UTC)


@pytest.fixture
def scrape(client, settings, monkeypatch):
    """GET /metrics with the token at the fixed NOW; returns {sample name: {labels: value}}."""
    settings.LLM_METRICS_TOKEN = TOKEN
    settings.LLM_METRICS_ALLOW = []
    monkeypatch.setattr(metrics.COLLECTOR, "clock", lambda: NOW)

    def get():
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain; version=0.0.4")
        return samples(response.content.decode())

    return get


def samples(text: str) -> dict:
    out: dict = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def value(found: dict, name: str, **labels) -> float:
    return found[name][tuple(sorted(labels.items()))]


@pytest.mark.django_db
def test_requests_by_provider_key_and_outcome_match_the_health_rows(scrape):
    groq = ProviderHealth.objects.create(name="groq", total_requests=10, total_failures=3)
    KeyHealth.objects.create(provider=groq, label="k1", total_requests=7, total_failures=1)
    KeyHealth.objects.create(provider=groq, label="k2", total_requests=3, total_failures=2)
    Counter.objects.create(name="requests", value=42)

    found = scrape()

    assert value(found, "llm_provider_requests_total", provider="groq", outcome="success") == 7
    assert value(found, "llm_provider_requests_total", provider="groq", outcome="failure") == 3
    key = "llm_key_requests_total"
    assert value(found, key, provider="groq", key="k1", outcome="success") == 6
    assert value(found, key, provider="groq", key="k2", outcome="failure") == 2
    assert value(found, "llm_gateway_requests_total") == 42


@pytest.mark.django_db
def test_failures_by_class_count_the_window_only(scrape):
    def event(provider, error_type, ago_s):
        ErrorEvent.objects.create(
            provider=provider, error_type=error_type, created_at=NOW - timedelta(seconds=ago_s)
        )

    event("groq", "rate_limit", 10)
    event("groq", "rate_limit", 200)
    event("groq", "timeout", 30)
    event("gemini", "rate_limit", 5)
    event("groq", "rate_limit", 3600)  # an hour ago: outside the window

    found = scrape()["llm_provider_failures_recent"]

    assert found == {
        (("error_type", "rate_limit"), ("provider", "groq")): 2,
        (("error_type", "timeout"), ("provider", "groq")): 1,
        (("error_type", "rate_limit"), ("provider", "gemini")): 1,
    }


def bucket(provider: str, minute: datetime, counts: dict[int, int], sum_ms: float) -> None:
    """A usage row with `counts` {column index: n} in the histogram columns."""
    columns = metrics.latency_columns()
    UsageBucket.objects.create(
        provider=provider,
        minute=minute,
        requests=sum(counts.values()),
        latency_sum_ms=sum_ms,
        **{columns[i]: n for i, n in counts.items()},
    )


@pytest.mark.django_db
def test_latency_histogram_is_cumulative_in_seconds_and_sums_the_window(scrape):
    minute = NOW.replace(second=0)
    last = len(models.LATENCY_BOUNDS_MS)  # the open bucket
    bucket("groq", minute, {0: 2, 3: 1}, sum_ms=100)
    bucket("groq", minute - timedelta(minutes=1), {3: 4, last: 1}, sum_ms=90_000)
    bucket("groq", minute - timedelta(minutes=30), {0: 50}, sum_ms=50)  # outside the window
    bucket("", minute, {0: 9}, sum_ms=9)  # whole gateway requests: not a provider

    found = scrape()
    buckets = found["llm_provider_latency_seconds_bucket"]
    groq = {dict(k)["le"]: v for k, v in buckets.items() if dict(k)["provider"] == "groq"}

    bounds = [float(le) for le in groq if le != "+Inf"]
    assert bounds == sorted(bounds) and bounds[-1] == models.LATENCY_BOUNDS_MS[-1] / 1000
    counts = [groq[le] for le in sorted(groq, key=float)]
    assert counts == sorted(counts), "cumulative buckets never fall"
    by_bound = {float(le): n for le, n in groq.items()}
    first, fourth = (models.LATENCY_BOUNDS_MS[i] / 1000 for i in (0, 3))
    assert (by_bound[first], by_bound[fourth], groq["+Inf"]) == (2, 7, 8)
    assert value(found, "llm_provider_latency_seconds_count", provider="groq") == 8
    assert value(found, "llm_provider_latency_seconds_sum", provider="groq") == pytest.approx(90.1)
    assert {dict(k)["provider"] for k in buckets} == {"groq"}


@pytest.mark.django_db
def test_cooldown_seconds_left_and_state_per_provider_and_key(scrape):
    groq = ProviderHealth.objects.create(name="groq", cooldown_until=NOW + timedelta(seconds=90))
    ProviderHealth.objects.create(name="gemini", cooldown_until=NOW - timedelta(seconds=5))
    ProviderHealth.objects.create(name="deepseek", is_enabled=False)
    KeyHealth.objects.create(provider=groq, label="k1", is_unavailable=True)
    KeyHealth.objects.create(provider=groq, label="k2", cooldown_until=NOW + timedelta(seconds=12))

    found = scrape()

    assert value(found, "llm_provider_cooldown_seconds", provider="groq") == 90
    assert value(found, "llm_provider_cooldown_seconds", provider="gemini") == 0
    assert value(found, "llm_key_cooldown_seconds", provider="groq", key="k2") == 12
    state = "llm_provider_state"
    assert value(found, state, provider="groq", state="cooling") == 1
    assert value(found, state, provider="groq", state="ok") == 0
    assert value(found, state, provider="gemini", state="ok") == 1
    assert value(found, state, provider="deepseek", state="disabled") == 1
    assert value(found, "llm_key_state", provider="groq", key="k1", state="unavailable") == 1
    assert value(found, "llm_key_state", provider="groq", key="k2", state="cooling") == 1


@pytest.mark.django_db
def test_escalations_open_and_total(scrape):
    assert value(scrape(), "llm_escalations_open") == 0
    Counter.objects.create(name="escalations", value=3)
    for number, status in [(1, "recovered"), (2, "resolved"), (3, "open")]:
        Escalation.objects.create(
            number=number,
            status=status,
            trigger="failures",
            reason="r",
            opened_at=NOW,
            first_seen_at=NOW,
            last_seen_at=NOW,
        )

    found = scrape()

    assert value(found, "llm_escalations_total") == 3
    assert value(found, "llm_escalations_open") == 1


@pytest.mark.django_db
def test_registered_sources_join_every_scrape(scrape, monkeypatch):
    monkeypatch.setattr(metrics, "EXTRA_COLLECTORS", [])

    @metrics.register
    def cache_hits():
        family = CounterMetricFamily("llm_cache_hits", "Cache hits.")
        family.add_metric([], 5)
        return [family]

    metrics.register(cache_hits)  # twice: still one family, not a duplicate
    assert value(scrape(), "llm_cache_hits_total") == 5
    assert metrics.EXTRA_COLLECTORS == [cache_hits]


@pytest.mark.django_db
def test_openmetrics_is_served_when_the_scraper_asks_for_it(client, settings):
    settings.LLM_METRICS_TOKEN, settings.LLM_METRICS_ALLOW = TOKEN, []
    Counter.objects.create(name="requests", value=4)
    response = client.get(
        "/metrics",
        HTTP_AUTHORIZATION=f"Bearer {TOKEN}",
        HTTP_ACCEPT="application/openmetrics-text; version=1.0.0,text/plain;q=0.5",
    )
    assert response["Content-Type"].startswith("application/openmetrics-text")
    families = {f.name: f for f in openmetrics_families(response.content.decode())}
    assert families["llm_gateway_requests"].samples[0].value == 4


# --- Who may scrape ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_does_not_exist_until_a_token_or_allow_list_is_set(client, settings):
    settings.LLM_METRICS_TOKEN, settings.LLM_METRICS_ALLOW = "", []
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header, status",
    [
        (f"Bearer {TOKEN}", 200),
        (f"bearer {TOKEN}", 200),
        (None, 403),
        ("Bearer wrong", 403),
        (f"Basic {TOKEN}", 403),
        (f"Bearer {TOKEN}x", 403),
        ("Bearer", 403),
    ],
)
def test_the_token_is_checked(client, settings, header, status):
    settings.LLM_METRICS_TOKEN, settings.LLM_METRICS_ALLOW = TOKEN, []
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get("/metrics", **extra)
    assert response.status_code == status
    assert TOKEN.encode() not in response.content


@pytest.mark.django_db
@pytest.mark.parametrize(
    "address, status",
    [
        ("10.1.2.3", 200),
        ("::ffff:10.1.2.3", 200),
        ("2001:db8::7", 200),
        ("127.0.0.1", 403),
        ("10.2.0.1", 403),
        ("", 403),
    ],
)
def test_the_allow_list_checks_the_peer_address(client, settings, address, status):
    settings.LLM_METRICS_TOKEN, settings.LLM_METRICS_ALLOW = "", ["10.1.0.0/16", "2001:db8::/32"]
    response = client.get("/metrics", REMOTE_ADDR=address)
    assert response.status_code == status


@pytest.mark.django_db
def test_only_get_and_head_are_answered(client, settings):
    settings.LLM_METRICS_TOKEN, settings.LLM_METRICS_ALLOW = TOKEN, []
    auth = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}
    assert client.head("/metrics", **auth).status_code == 200
    assert client.post("/metrics", **auth).status_code == 405


@pytest.mark.django_db
def test_a_forwarded_header_does_not_pass_the_allow_list(client, settings):
    settings.LLM_METRICS_TOKEN, settings.LLM_METRICS_ALLOW = "", ["10.0.0.0/8"]
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="10.0.0.1")
    assert response.status_code == 403


@pytest.mark.django_db
def test_either_the_token_or_the_address_is_enough(client, settings):
    settings.LLM_METRICS_TOKEN, settings.LLM_METRICS_ALLOW = TOKEN, ["10.0.0.0/8"]
    outside = "203.0.113.9"
    assert client.get("/metrics", REMOTE_ADDR="10.0.0.1").status_code == 200
    auth = f"Bearer {TOKEN}"
    assert client.get("/metrics", REMOTE_ADDR=outside, HTTP_AUTHORIZATION=auth).status_code == 200
    assert client.get("/metrics", REMOTE_ADDR=outside).status_code == 403


def test_a_malformed_allow_list_entry_is_a_configuration_error():
    with pytest.raises(ImproperlyConfigured, match="LLM_METRICS_ALLOW"):
        metrics.allowed_networks(("10.0.0.0/8", "not-a-network"))


# --- The Grafana dashboard --------------------------------------------------------------------

DASHBOARD = Path(__file__).resolve().parents[2] / "ops" / "grafana" / "d8-llm-fallback.json"


@pytest.mark.django_db
def test_the_dashboard_reads_only_metrics_the_endpoint_serves(scrape):
    groq = ProviderHealth.objects.create(name="groq")
    KeyHealth.objects.create(provider=groq, label="k1", cooldown_until=NOW + timedelta(seconds=9))
    ErrorEvent.objects.create(provider="groq", error_type="timeout", created_at=NOW)
    bucket("groq", NOW.replace(second=0), {0: 1}, sum_ms=1)
    served = {re.sub(r"_(bucket|sum|count)$", "", name) for name in scrape()} | set(scrape())

    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {m for e in exprs for m in re.findall(r"\bllm_[a-z_]+", e)}

    assert used and used <= served, used - served
    assert {p["datasource"]["uid"] for p in dashboard["panels"]} == {"${datasource}"}
    assert any("histogram_quantile(0.95" in e for e in exprs)
    assert not any(re.search(r"\bsum\b.*rate\(", e) for e in exprs), "instances repeat values"


@pytest.mark.django_db
def test_requests_and_tokens_per_agent_are_exposed_without_the_key():
    from llmfallback.access import agent_keys, limits
    from llmfallback.models import AgentKey

    _, raw = agent_keys.agent_key_create(name="research")
    agent = AgentKey.objects.get(name="research")
    limits.request_admit(agent, now=1_800_000_000.0)
    limits.tokens_add(agent, 42, now=1_800_000_000.0)
    from llmfallback.ops.metrics import agent_families

    text = {f.name: {s.labels["agent"]: s.value for s in f.samples} for f in agent_families()}
    assert text["llm_agent_requests"]["research"] == 1
    assert text["llm_agent_tokens"]["research"] == 42
    assert raw not in repr(text)


@pytest.mark.django_db
def test_cache_hits_and_misses_are_exposed():
    from llmfallback.models import Counter
    from llmfallback.ops.metrics import cache_families

    Counter.objects.create(name="cache_hits", value=3)
    Counter.objects.create(name="cache_misses", value=5)
    values = {f.name: f.samples[0].value for f in cache_families()}
    assert values == {"llm_cache_hits": 3, "llm_cache_misses": 5}


@pytest.mark.django_db
def test_the_web_workers_in_flight_queued_and_shed_are_exposed(scrape, monkeypatch):
    from d8site.web_stats import WebStats
    from llmfallback.ops import web_metrics

    stats = WebStats(slots=2, alive=lambda pid: True)
    monkeypatch.setattr(web_metrics, "STATS", stats)
    row = stats.claim(4242)
    row.set("in_flight", 512)
    row.set("queued", 30)
    row.add("shed_queue_full", 7)
    row.add("dropped_client_gone", 2)
    row.add("refused_address_limit", 9)
    found = scrape()
    assert value(found, "d8_web_requests_in_flight") == 512
    assert value(found, "d8_web_requests_queued") == 30
    assert value(found, "d8_web_requests_shed_total", reason="queue_full") == 7
    assert value(found, "d8_web_requests_shed_total", reason="queue_timeout") == 0
    assert value(found, "d8_web_requests_shed_total", reason="client_gone") == 2
    assert value(found, "d8_web_connections_refused_total", reason="address_limit") == 9
    assert value(found, "d8_web_workers") == 1


def test_histogram_bounds_read_as_written():
    from llmfallback.ops.metrics import cumulative_buckets

    bounds = [b for b, _ in cumulative_buckets([0] * len(models.LATENCY_BOUNDS_MS) + [0])]
    assert "0.00144" in bounds and "0.001" in bounds and bounds[-1] == "+Inf"
    assert all(len(b) <= 10 for b in bounds), [b for b in bounds if len(b) > 10]
