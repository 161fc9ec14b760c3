"""The gateway's tables: health.py (shared provider health, error history, usage), agents.py
(agent keys and their limits), records.py (audit log, escalations, overrides, alerts)."""

from .agents import AgentKey, validate_provider_list
from .health import (
    LATENCY_BOUNDS_MS,
    LATENCY_COLUMNS,
    Counter,
    ErrorEvent,
    HealthState,
    KeyHealth,
    ProviderHealth,
    UsageBucket,
)
from .records import AlertDelivery, AuditEntry, Escalation, EscalationEvent, SettingOverride

__all__ = [
    "LATENCY_BOUNDS_MS",
    "LATENCY_COLUMNS",
    "AgentKey",
    "AlertDelivery",
    "AuditEntry",
    "Counter",
    "ErrorEvent",
    "Escalation",
    "EscalationEvent",
    "HealthState",
    "KeyHealth",
    "ProviderHealth",
    "SettingOverride",
    "UsageBucket",
    "validate_provider_list",
]
