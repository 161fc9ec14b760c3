"""django-q2 tasks: plain functions enqueued by dotted path; they only call services."""

from . import services


def history_prune() -> int:
    return services.history_prune()
