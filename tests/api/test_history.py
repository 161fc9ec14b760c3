from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule

from llmfallback import services, tasks
from llmfallback.models import ErrorEvent, UsageBucket

pytestmark = pytest.mark.django_db


def test_history_older_than_the_keep_days_is_pruned(settings):
    settings.LLM_ERROR_HISTORY_KEEP_DAYS = 30
    now = timezone.now()
    for age in (31, 29):
        at = now - timedelta(days=age)
        ErrorEvent.objects.create(created_at=at, provider="groq", error_type="timeout")
        UsageBucket.objects.create(provider="groq", minute=at.replace(second=0, microsecond=0))
    assert tasks.history_prune() == 2
    assert ErrorEvent.objects.count() == UsageBucket.objects.count() == 1


def test_staff_login_records_older_than_the_keep_days_are_pruned(settings):
    """Every failed staff login writes a row (django-axes' failure log), an unauthenticated
    client's included: kept for good, a password sprayer would grow the table without end."""
    from axes.models import AccessFailureLog, AccessLog

    settings.LLM_ERROR_HISTORY_KEEP_DAYS = 30
    now = timezone.now()
    for age in (31, 29):
        at = now - timedelta(days=age)
        failure = AccessFailureLog.objects.create(username=f"guess{age}", ip_address="203.0.113.7")
        login = AccessLog.objects.create(username="admin", ip_address="198.51.100.1")
        AccessFailureLog.objects.filter(pk=failure.pk).update(attempt_time=at)
        AccessLog.objects.filter(pk=login.pk).update(attempt_time=at)

    assert tasks.history_prune() == 2
    assert list(AccessFailureLog.objects.values_list("username", flat=True)) == ["guess29"]
    assert AccessLog.objects.count() == 1


def test_the_prune_schedule_is_created_once():
    services.schedules_ensure()
    services.schedules_ensure()
    assert (
        Schedule.objects.filter(
            name="llm-history-prune", func="llmfallback.tasks.history_prune"
        ).count()
        == 1
    )


PERIODIC = {
    "llm-history-prune": "llmfallback.tasks.history_prune",
    "llm-escalation-events-prune": "llmfallback.tasks.escalation_events_prune",
    "llm-auth-probes": "llmfallback.tasks.auth_probes",
}


def _periodic() -> dict[str, str]:
    return dict(Schedule.objects.filter(name__in=PERIODIC).values_list("name", "func"))


def test_migrate_alone_creates_every_periodic_schedule():
    """The several-machine recipe is migrate, gunicorn and qcluster, never `serve`: the pruning
    and the probes of keys taken out must be scheduled by migrate itself (this test database
    was made by it, nothing here called schedules_ensure)."""
    assert _periodic() == PERIODIC


def test_migrate_puts_back_a_deleted_schedule_and_makes_no_second_one():
    Schedule.objects.filter(name="llm-auth-probes").delete()

    call_command("migrate", verbosity=0, interactive=False)
    call_command("migrate", verbosity=0, interactive=False)

    assert _periodic() == PERIODIC
    assert Schedule.objects.filter(name__in=PERIODIC).count() == len(PERIODIC)


def test_two_machines_migrating_at_once_leave_duplicates_the_next_migrate_removes():
    """Schedule.name is not unique: two processes that migrate together can both create one.
    A later migrate must neither fail on the pair (update_or_create would raise) nor keep it."""
    Schedule.objects.filter(name="llm-auth-probes").update(schedule_type=Schedule.DAILY)
    for name, func in PERIODIC.items():
        Schedule.objects.create(name=name, func=func, schedule_type=Schedule.HOURLY)

    call_command("migrate", verbosity=0, interactive=False)

    assert _periodic() == PERIODIC
    assert Schedule.objects.filter(name__in=PERIODIC).count() == len(PERIODIC)
    probes = Schedule.objects.get(name="llm-auth-probes")
    assert (probes.schedule_type, probes.minutes) == (Schedule.MINUTES, 5)  # the kept one, fixed
