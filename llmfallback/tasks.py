"""django-q2 tasks: plain functions enqueued by dotted path; they only call services."""

from . import probes, services


def history_prune() -> int:
    return services.history_prune()


def auth_probes() -> dict[str, str]:
    return probes.auth_probes_run()
