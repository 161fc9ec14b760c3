"""What the gateway records for operators: the audit log, escalations and their timeline,
setting overrides and alert deliveries."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEntry(models.Model):
    """Who changed what, when: operator actions and Congress remedies. Append-only."""

    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    actor = models.CharField(_("actor"), max_length=150)
    action = models.CharField(_("action"), max_length=64)
    target = models.CharField(_("target"), max_length=150, blank=True)
    before = models.JSONField(_("before"), default=dict, blank=True)
    after = models.JSONField(_("after"), default=dict, blank=True)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")

    def __str__(self) -> str:
        return f"{self.actor} {self.action} {self.target}"


class Escalation(models.Model):
    """One outage handed to the Congress. At most one is open at a time (a DB constraint)."""

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        RECOVERED = "recovered", _("recovered")  # requests succeeded again
        RESOLVED = "resolved", _("resolved")  # closed by hand

    number = models.PositiveIntegerField(_("number"), unique=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    trigger = models.CharField(_("trigger"), max_length=32)
    reason = models.CharField(_("reason"), max_length=300)
    context = models.CharField(_("context"), max_length=2000, blank=True)
    providers = models.JSONField(
        _("providers"), default=list, blank=True, help_text=_("Blamed providers; empty = all.")
    )
    messages = models.JSONField(
        _("messages"),
        default=list,
        blank=True,
        help_text=_("Triggering messages, redacted and capped."),
    )
    provider_status = models.JSONField(_("provider status"), default=dict, blank=True)
    error_history = models.JSONField(_("error history"), default=list, blank=True)
    proposal_description = models.TextField(_("proposal description"), blank=True)
    proposal = models.ForeignKey(
        "congress.Proposal",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="escalations",
    )
    opened_at = models.DateTimeField(_("opened at"), db_index=True)
    first_seen_at = models.DateTimeField(_("first seen at"))
    last_seen_at = models.DateTimeField(_("last seen at"))
    failed_requests = models.PositiveIntegerField(_("failed requests"), default=0)
    failures = models.PositiveIntegerField(
        _("failures"), default=0, help_text=_("Failed provider attempts.")
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    # Set by the first success after the last failure; the incident closes once the providers
    # have stayed healthy for LLM_INCIDENT_SETTLE_S after it. A failure clears it again.
    healthy_since = models.DateTimeField(_("healthy since"), null=True, blank=True)
    file_name = models.CharField(_("file name"), max_length=100, blank=True)
    # The host whose LLM_DATA_DIR holds that file: a copy. The document itself is served from
    # this row (GET /api/llm/escalations/<id>/document), whichever host answers.
    file_host = models.CharField(_("file host"), max_length=255, blank=True)

    class Meta:
        ordering = ["-number"]
        verbose_name = _("escalation")
        verbose_name_plural = _("escalations")
        constraints = [
            # One incident, not a storm: a second concurrent open row fails with IntegrityError.
            models.UniqueConstraint(
                fields=["status"], condition=models.Q(status="open"), name="one_open_escalation"
            )
        ]

    def __str__(self) -> str:
        return _("Escalation #%(number)s (%(status)s)") % {
            "number": self.number,
            "status": self.get_status_display(),
        }


class EscalationEvent(models.Model):
    """The timeline of an escalation: opened, failures attached, recovered.

    Failures of one shape (the same attempts) are one event that counts them
    (escalation/timeline.py): `created_at` is the first, `last_at` the latest.
    """

    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(_("created at"), db_index=True)
    kind = models.CharField(_("kind"), max_length=16)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    count = models.PositiveIntegerField(_("count"), default=1)
    last_at = models.DateTimeField(_("last at"), null=True, blank=True)
    signature = models.CharField(max_length=32, blank=True, help_text="A failure's shape.")

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("escalation event")
        verbose_name_plural = _("escalation events")
        constraints = [
            # Two workers seeing a new shape at once make one event, not two.
            models.UniqueConstraint(
                fields=["escalation", "signature"],
                condition=models.Q(kind="failure") & ~models.Q(signature=""),
                name="one_failure_event_per_shape",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} · {self.created_at:%Y-%m-%d %H:%M:%S}"


class SettingOverride(models.Model):
    """A setting changed at run time (e.g. a threshold raised by the Congress); wins over the env."""

    name = models.CharField(_("name"), max_length=64, unique=True)
    value = models.JSONField(_("value"))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = models.CharField(_("updated by"), max_length=150, blank=True)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class AlertDelivery(models.Model):
    """One alert on one channel. (kind, incident, channel) is unique: one alert per incident,
    however many workers saw it at once. The text is redacted before it is stored."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")

    kind = models.CharField(_("kind"), max_length=32)
    incident = models.CharField(_("incident"), max_length=200)
    channel = models.CharField(_("channel"), max_length=16)
    text = models.TextField(_("text"))
    status = models.CharField(_("status"), max_length=8, choices=Status, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), db_index=True)
    # When a worker took it: a worker killed mid-send leaves "sending", and the task django-q2
    # presents again may take it over once this is older than the lease.
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("alert delivery")
        verbose_name_plural = _("alert deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "incident", "channel"], name="one_alert_per_incident"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.incident} via {self.channel}: {self.status}"
