from datetime import timedelta

import pytest
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


def test_the_prune_schedule_is_created_once():
    services.schedules_ensure()
    services.schedules_ensure()
    assert (
        Schedule.objects.filter(
            name="llm-history-prune", func="llmfallback.tasks.history_prune"
        ).count()
        == 1
    )
