"""Run-time overrides of settings (thresholds raised by the Congress), read before the env defaults."""

from __future__ import annotations

from django.db import DatabaseError

from llmfallback.audit import audit_write
from llmfallback.models import SettingOverride

# Overridable names -> the settings they override.
THRESHOLDS = {
    "congress_threshold_failures": "LLM_CONGRESS_THRESHOLD_FAILURES",
    "congress_threshold_repeated_error": "LLM_CONGRESS_THRESHOLD_REPEATED_ERROR",
    "congress_window_s": "LLM_CONGRESS_WINDOW_S",
}


def override_value(name: str):
    """The current value of an overridable threshold: the DB override, else the setting."""
    from django.conf import settings

    try:
        value = SettingOverride.objects.filter(name=name).values_list("value", flat=True).first()
    except DatabaseError:  # tables not migrated yet (e.g. during `migrate` itself)
        value = None
    return value if value is not None else getattr(settings, THRESHOLDS[name])


def override_set(*, name: str, value: int, by: str) -> dict:
    """Set a threshold override, audited; returns before/after."""
    if name not in THRESHOLDS:
        raise ValueError(f"'{name}' cannot be overridden (one of: {', '.join(THRESHOLDS)}).")
    before = override_value(name)
    SettingOverride.objects.update_or_create(name=name, defaults={"value": value, "updated_by": by})
    audit_write(
        actor=by,
        action="threshold_set",
        target=name,
        before={"value": before},
        after={"value": value},
    )
    return {"name": name, "before": before, "after": value}
