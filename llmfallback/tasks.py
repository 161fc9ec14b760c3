"""django-q2 tasks: plain functions enqueued by dotted path; they only call services."""

from llmfallback import services
from llmfallback.health import probes

from .ops import alerts


def history_prune() -> int:
    return services.history_prune()


def escalation_events_prune() -> int:
    return services.escalation_events_prune()


def auth_probes() -> dict[str, str]:
    return probes.auth_probes_run()


def alert_send(delivery_id: int) -> str:
    """Queued by ops.alerts.alert_raise once the incident's transaction commits."""
    return alerts.alert_deliver(delivery_id=delivery_id)
