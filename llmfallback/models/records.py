"""What the gateway records for operators: the audit log, escalations and their timeline,
setting overrides and alert deliveries."""

from django.db import models


class AuditEntry(models.Model):
    """Who changed what, when: operator actions and Congress remedies. Append-only."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.CharField(max_length=150)
    action = models.CharField(max_length=64)
    target = models.CharField(max_length=150, blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.actor} {self.action} {self.target}"


class Escalation(models.Model):
    """One outage handed to the Congress. At most one is open at a time (a DB constraint)."""

    class Status(models.TextChoices):
        OPEN = "open"
        RECOVERED = "recovered"  # requests succeeded again
        RESOLVED = "resolved"  # closed by hand

    number = models.PositiveIntegerField(unique=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    trigger = models.CharField(max_length=32)
    reason = models.CharField(max_length=300)
    context = models.CharField(max_length=2000, blank=True)
    providers = models.JSONField(
        default=list, blank=True, help_text="Blamed providers; empty = all."
    )
    messages = models.JSONField(
        default=list, blank=True, help_text="Triggering messages, redacted and capped."
    )
    provider_status = models.JSONField(default=dict, blank=True)
    error_history = models.JSONField(default=list, blank=True)
    proposal_description = models.TextField(blank=True)
    proposal = models.ForeignKey(
        "congress.Proposal",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="escalations",
    )
    opened_at = models.DateTimeField(db_index=True)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    failed_requests = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0, help_text="Failed provider attempts.")
    closed_at = models.DateTimeField(null=True, blank=True)
    # Set by the first success after the last failure; the incident closes once the providers
    # have stayed healthy for LLM_INCIDENT_SETTLE_S after it. A failure clears it again.
    healthy_since = models.DateTimeField(null=True, blank=True)
    file_name = models.CharField(max_length=100, blank=True)
    # The host whose LLM_DATA_DIR holds that file: a copy. The document itself is served from
    # this row (GET /api/llm/escalations/<id>/document), whichever host answers.
    file_host = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            # One incident, not a storm: a second concurrent open row fails with IntegrityError.
            models.UniqueConstraint(
                fields=["status"], condition=models.Q(status="open"), name="one_open_escalation"
            )
        ]

    def __str__(self) -> str:
        return f"Escalation #{self.number} ({self.status})"


class EscalationEvent(models.Model):
    """The timeline of an escalation: opened, failures attached, recovered. Append-only."""

    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(db_index=True)
    kind = models.CharField(max_length=16)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} at {self.created_at:%Y-%m-%d %H:%M:%S}"


class SettingOverride(models.Model):
    """A setting changed at run time (e.g. a threshold raised by the Congress); wins over the env."""

    name = models.CharField(max_length=64, unique=True)
    value = models.JSONField()
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=150, blank=True)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class AlertDelivery(models.Model):
    """One alert on one channel. (kind, incident, channel) is unique: one alert per incident,
    however many workers saw it at once. The text is redacted before it is stored."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        SENT = "sent"
        FAILED = "failed"

    kind = models.CharField(max_length=32)
    incident = models.CharField(max_length=200)
    channel = models.CharField(max_length=16)
    text = models.TextField()
    status = models.CharField(max_length=8, choices=Status, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(db_index=True)
    # When a worker took it: a worker killed mid-send leaves "sending", and the task django-q2
    # presents again may take it over once this is older than the lease.
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "alert deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "incident", "channel"], name="one_alert_per_incident"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.incident} via {self.channel}: {self.status}"
