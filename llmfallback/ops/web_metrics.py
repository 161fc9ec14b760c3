"""This server's web workers in /metrics: requests in flight and queued, and those shed.

Unlike the database-backed families, these are the gunicorn instance's own (d8site/web_stats.py,
shared by its workers): scrape every instance. Outside gunicorn they are all 0.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from d8site.web_stats import STATS

# web_stats counter -> (family, reason)
SHED = {
    "shed_queue_full": "queue_full",
    "shed_queue_timeout": "queue_timeout",
    "dropped_client_gone": "client_gone",
}
REFUSED = {"refused_address_limit": "address_limit", "read_timeouts": "read_timeout"}


def web_families(totals: dict[str, int] | None = None) -> Iterable[Metric]:
    totals = STATS.totals() if totals is None else totals
    in_flight = GaugeMetricFamily(
        "d8_web_requests_in_flight", "Requests a web worker thread is serving now."
    )
    in_flight.add_metric([], totals["in_flight"])
    queued = GaugeMetricFamily(
        "d8_web_requests_queued", "Whole requests waiting for a web worker thread (WEB_QUEUE)."
    )
    queued.add_metric([], totals["queued"])
    relayed = GaugeMetricFamily(
        "d8_web_streams_relayed",
        "Streams past their first chunk that a web worker's event loop relays now "
        "(counted in in_flight too: their thread waits for the loop).",
    )
    relayed.add_metric([], totals["relayed"])
    shed = CounterMetricFamily(
        "d8_web_requests_shed",
        "Requests never sent to a provider: 503 for a full queue or a wait past "
        "WEB_QUEUE_WAIT_S, or closed because the client had gone.",
        labels=["reason"],
    )
    for field, reason in SHED.items():
        shed.add_metric([reason], totals[field])
    refused = CounterMetricFamily(
        "d8_web_connections_refused",
        "Connections closed before a whole request: too many slow ones from one address "
        "(WEB_SLOW_PER_ADDRESS), or none within WEB_READ_TIMEOUT_S.",
        labels=["reason"],
    )
    for field, reason in REFUSED.items():
        refused.add_metric([reason], totals[field])
    workers = GaugeMetricFamily("d8_web_workers", "Web worker processes of this instance.")
    workers.add_metric([], totals["workers"])
    return [in_flight, queued, relayed, shed, refused, workers]
