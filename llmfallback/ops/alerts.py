"""Alerts to operators on Telegram, Slack and a signed webhook: one per incident and kind.

alert_raise() records one AlertDelivery per configured channel; the unique
(kind, incident, channel) constraint makes two workers raising the same incident at once
record it once. A django-q2 task (tasks.alert_send) then sends it with bounded attempts and
exponential backoff. Alerting never breaks a chat request: every hook catches and logs.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from datetime import timedelta

import httpx
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone

from ..core.errors import AllProvidersFailed
from ..models import AlertDelivery, AuditEntry, Escalation, KeyHealth, ProviderHealth
from ..providers.redact import redact
from .alert_channels import (  # noqa: F401 - webhook_verify and the headers: for receivers
    BUILDERS,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    webhook_verify,
)

logger = logging.getLogger(__name__)

ESCALATION_OPENED = "escalation_opened"
ESCALATION_CLOSED = "escalation_closed"
KEY_AUTH = "key_auth"
ALL_DOWN = "all_down"

TASK = "llmfallback.tasks.alert_send"


def channels() -> list[str]:
    """The channels configured in the environment, in sending order; none means no alerts."""
    s = settings
    configured = {
        "telegram": s.LLM_ALERT_TELEGRAM_BOT_TOKEN and s.LLM_ALERT_TELEGRAM_CHAT_ID,
        "slack": s.LLM_ALERT_SLACK_WEBHOOK_URL,
        "webhook": s.LLM_ALERT_WEBHOOK_URL and s.LLM_ALERT_WEBHOOK_SECRET,  # never unsigned
    }
    return [name for name, on in configured.items() if on]


def secrets() -> tuple[str, ...]:
    """What must never appear in an alert, a delivery row or a log line."""
    from ..selectors import provider_secrets  # selectors import nothing of ours but models

    s = settings
    ours = (
        s.LLM_ALERT_TELEGRAM_BOT_TOKEN,
        s.LLM_ALERT_SLACK_WEBHOOK_URL,  # the URL itself is Slack's credential
        s.LLM_ALERT_WEBHOOK_SECRET,
        s.LLM_ALERT_WEBHOOK_URL,
    )
    return tuple(x for x in ours if x) + provider_secrets()


def never_raises(hook: Callable) -> Callable:
    """The caller's answer matters more than the alert: log and carry on."""

    @functools.wraps(hook)
    def wrapper(*args, **kwargs):
        try:
            return hook(*args, **kwargs)
        except Exception:
            logger.exception("Alerting failed in %s", hook.__name__)
            return 0

    return wrapper


@never_raises
def alert_raise(*, kind: str, incident: str, text: str) -> int:
    """Record the alert once per channel and queue its sending; returns the rows created."""
    names = channels()
    if not names or AlertDelivery.objects.filter(kind=kind, incident=incident).exists():
        return 0  # during a storm every failing request lands here: one indexed read
    text, created = redact(text, secrets()), 0
    for name in names:
        try:
            with transaction.atomic():
                delivery = AlertDelivery.objects.create(
                    kind=kind, incident=incident, channel=name, text=text, created_at=timezone.now()
                )
        except IntegrityError:  # one_alert_per_incident: another worker recorded it first
            continue
        # After commit, so the worker finds the row (and a rolled-back incident sends nothing).
        transaction.on_commit(functools.partial(_enqueue, delivery.pk))
        created += 1
    return created


@never_raises
def _enqueue(delivery_id: int) -> None:
    from django_q.tasks import async_task

    async_task(TASK, delivery_id, task_name=f"alert-{delivery_id}")


# The events. Hooks call these, one line each.


@never_raises
def alert_escalation_opened(escalation) -> int:
    providers = ", ".join(escalation.providers) or "all"
    text = f"🚨 d8 LLM: escalation #{escalation.number} opened. {escalation.reason} Providers: {providers}."
    return alert_raise(
        kind=ESCALATION_OPENED, incident=f"escalation:{escalation.number}", text=text
    )


@never_raises
def alert_escalation_closed(escalation_id: int) -> int:
    if not channels():
        return 0
    escalation = Escalation.objects.get(pk=escalation_id)
    text = (
        f"✅ d8 LLM: escalation #{escalation.number} {escalation.status}: "
        f"{escalation.failed_requests} requests failed during the incident."
    )
    return alert_raise(
        kind=ESCALATION_CLOSED, incident=f"escalation:{escalation.number}", text=text
    )


@never_raises
def alert_key_unavailable(failure) -> int:
    """A key that failed authentication is out until a reset: one alert per such episode."""
    if not (failure.unavailable and failure.scope == "key") or not channels():
        return 0
    status = f" (HTTP {failure.error.status})" if failure.error.status else ""
    text = (
        f"🔑 d8 LLM: key {failure.provider}/{failure.key} failed authentication{status}; "
        f"it is out of service until an operator resets {failure.provider}."
    )
    incident = key_episode(failure.provider, failure.key)
    return alert_raise(kind=KEY_AUTH, incident=incident, text=text)


def key_episode(provider: str, label: str) -> str:
    """provider/label, the key's fingerprint and the provider's resets so far: a new secret or a
    reset starts a new episode, while every worker that saw this one names it alike."""
    fingerprint = (
        KeyHealth.objects.filter(provider__name=provider, label=label)
        .values_list("fingerprint", flat=True)
        .first()
    )
    resets = AuditEntry.objects.filter(action="provider_reset", target=provider).count()
    return f"{provider}/{label}:{(fingerprint or '-')[:8]}:reset{resets}"


@never_raises
def alert_all_down(error) -> int:
    """Every provider failed a request: one alert until one of them serves again."""
    if not isinstance(error, AllProvidersFailed) or not channels():
        return 0
    last = ProviderHealth.objects.aggregate(m=Max("last_success_at"))["m"]
    since = last.isoformat(timespec="seconds") if last else "never"
    kinds = sorted({a.error_type for a in error.attempts if getattr(a, "error_type", None)})
    text = (
        f"🔥 d8 LLM: every provider is down ({', '.join(kinds) or error.reason}). "
        f"Last success: {since}."
    )
    return alert_raise(kind=ALL_DOWN, incident=f"down-since:{since}", text=text)


# Sending (the django-q2 task's body).


def alert_deliver(*, delivery_id: int, sleep=time.sleep, now=timezone.now) -> str:
    """Send one delivery: bounded attempts, exponential backoff, each attempt counted."""
    if not _claim(delivery_id, now()):
        return "skipped"
    delivery = AlertDelivery.objects.get(pk=delivery_id)
    rows = AlertDelivery.objects.filter(pk=delivery_id)
    tries = max(1, settings.LLM_ALERT_ATTEMPTS)
    for n in range(1, tries + 1):
        error, retryable = _attempt(delivery, now())
        if error is None:
            rows.update(status=AlertDelivery.Status.SENT, attempts=n, last_error="", sent_at=now())
            return AlertDelivery.Status.SENT
        rows.update(attempts=n, last_error=error)
        logger.warning("Alert %s via %s, attempt %s: %s", delivery.kind, delivery.channel, n, error)
        if not retryable or n == tries:
            break
        sleep(settings.LLM_ALERT_BACKOFF_S * 2 ** (n - 1))
    rows.update(status=AlertDelivery.Status.FAILED)
    return AlertDelivery.Status.FAILED


def _claim(delivery_id: int, at) -> bool:
    """Take the delivery unless it is sent or another worker holds it; a worker killed mid-send
    loses it after the django-q2 task timeout, when django-q2 presents the task again."""
    stale = at - timedelta(seconds=settings.Q_CLUSTER.get("timeout", 120))
    takeable = Q(status=AlertDelivery.Status.PENDING) | Q(
        status=AlertDelivery.Status.SENDING, claimed_at__lt=stale
    )
    return bool(
        AlertDelivery.objects.filter(takeable, pk=delivery_id).update(
            status=AlertDelivery.Status.SENDING, claimed_at=at
        )
    )


def _attempt(delivery: AlertDelivery, at) -> tuple[str | None, bool]:
    """(None, _) when delivered, else (redacted error, whether another try may help)."""
    try:
        request = BUILDERS[delivery.channel](delivery, int(at.timestamp()))
        with httpx.Client(timeout=settings.LLM_ALERT_TIMEOUT_S) as client:
            response = client.post(request.url, content=request.body, headers=request.headers)
    except httpx.HTTPError as exc:  # never str(exc) alone: some name the URL, and so the token
        return redact(f"{type(exc).__name__}: {exc}", secrets()), True
    if response.is_success:
        return None, False
    error = redact(f"HTTP {response.status_code}: {response.text[:200]}", secrets())
    # A 4xx other than 429 is our configuration (bad token, unknown chat): retrying won't help.
    return error, response.status_code == 429 or response.status_code >= 500
