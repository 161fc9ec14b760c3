"""Shared provider health, error history and usage: every worker on every machine reads these rows."""

from django.db import models

from .core.percentiles import log_bounds


class HealthState(models.Model):
    """What both a provider and each of its keys keep: availability, cooldown, counts, last error."""

    is_unavailable = models.BooleanField(
        default=False, help_text="Set by auth failures; reset by hand."
    )
    cooldown_until = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    total_requests = models.PositiveBigIntegerField(default=0)
    total_failures = models.PositiveBigIntegerField(default=0)
    last_error_type = models.CharField(max_length=32, blank=True)
    last_error_message = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    # The last failure that was the provider's own fault (not a refused request): a success
    # written later from a buffer resets the counts only if it came after this.
    last_failure_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Sum over every attempt, served or failed: the average is latency_total_ms / total_requests.
    latency_total_ms = models.FloatField(default=0)

    class Meta:
        abstract = True


class ProviderHealth(HealthState):
    """Current state of one provider, updated with narrow F() updates; history lives in ErrorEvent."""

    name = models.CharField(max_length=64, unique=True)
    priority = models.PositiveIntegerField(default=0, help_text="Lower is tried first.")
    is_enabled = models.BooleanField(default=True, help_text="Operators can take a provider out.")
    last_success_at = models.DateTimeField(null=True, blank=True)
    # Cooldowns since the last success. Adaptive cooldowns double with each new episode (a failure
    # after the last cooldown ended), never with failures of requests in flight together.
    cooldown_episodes = models.PositiveIntegerField(default=0)
    # Half-open lease: when a cooldown ends, the one request that sets this (a conditional UPDATE)
    # calls the provider; the others keep falling back until it succeeds or the lease lapses.
    probe_until = models.DateTimeField(null=True, blank=True, editable=False)
    # Position in LLM_PROVIDER_PRIORITY when last seen: when the configuration reorders
    # providers, the configuration wins over operators' earlier changes to `priority`.
    configured_rank = models.PositiveIntegerField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["priority", "name"]
        verbose_name_plural = "provider health"

    def __str__(self) -> str:
        return self.name


class KeyHealth(HealthState):
    """State of one API key of a provider; identified by its label (k1, k2…), never its secret."""

    provider = models.ForeignKey(ProviderHealth, on_delete=models.CASCADE, related_name="keys")
    label = models.CharField(max_length=32)
    # A truncated SHA-256 of the configured secret: a new key under the same label starts clean.
    fingerprint = models.CharField(max_length=16, blank=True, editable=False)

    class Meta:
        ordering = ["provider__priority", "label"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "label"], name="unique_key_label")
        ]

    def __str__(self) -> str:
        return f"{self.provider.name}/{self.label}"


class ErrorEvent(models.Model):
    """Append-only error history. Messages are redacted before they get here."""

    created_at = models.DateTimeField(db_index=True)
    provider = models.CharField(max_length=64, db_index=True)
    key = models.CharField(max_length=32, blank=True)
    error_type = models.CharField(max_length=32, db_index=True)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    message = models.TextField(blank=True)
    latency_ms = models.FloatField(default=0)
    cooldown_until = models.DateTimeField(null=True, blank=True)
    # The provider refused the request itself (too large, blocked, unusable for this request):
    # shown in the history like every failure, never counted towards an escalation.
    refused = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.provider} {self.error_type} at {self.created_at:%Y-%m-%d %H:%M:%S}"


# Upper bounds (ms) of the latency histogram kept per provider and minute: 1 ms to 60 s, each
# 1.2 times the last (62 buckets, and one above 60 s), so a p50/p95 read from it is within 10 %
# of the true value (core/percentiles.py). Column hNN counts latencies in
# (LATENCY_BOUNDS_MS[NN-1], LATENCY_BOUNDS_MS[NN]]; h_inf those above the last bound.
LATENCY_BOUNDS_MS = log_bounds(1, 60_000)
LATENCY_COLUMNS = (*(f"h{i:02}" for i in range(len(LATENCY_BOUNDS_MS))), "h_inf")


class UsageBucket(models.Model):
    """Per provider and minute: attempts, failures and a latency histogram, for charts and p50/p95.

    provider "" counts whole gateway requests (served or failed), not attempts.
    """

    provider = models.CharField(max_length=64, blank=True)
    minute = models.DateTimeField()
    requests = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    latency_sum_ms = models.FloatField(default=0)
    # h00 … h61, h_inf: 63 columns declared from the bounds, so bounds and columns never drift.
    for _column in LATENCY_COLUMNS:
        locals()[_column] = models.PositiveIntegerField(default=0)
    del _column

    class Meta:
        ordering = ["minute", "provider"]
        constraints = [models.UniqueConstraint(fields=["provider", "minute"], name="unique_bucket")]
        indexes = [models.Index(fields=["minute"])]

    def __str__(self) -> str:
        return (
            f"{self.provider or 'gateway'} {self.minute:%Y-%m-%d %H:%M}: {self.requests} requests"
        )

    def latency_counts(self) -> list[int]:
        """The histogram in bound order, the open last bucket last."""
        return [getattr(self, c) for c in LATENCY_COLUMNS]


class Counter(models.Model):
    """Lifetime gateway counters (total requests, escalations), one row each."""

    name = models.CharField(max_length=64, unique=True)
    value = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


def validate_provider_list(value: str) -> None:
    """Only configured provider names: a typo would silently leave a key with no provider."""
    from django.conf import settings
    from django.core.exceptions import ValidationError

    known = {c.name for c in settings.LLM_PROVIDERS}
    unknown = sorted({n.strip() for n in value.split(",") if n.strip()} - known)
    if unknown:
        raise ValidationError(
            f"Unknown provider(s): {', '.join(unknown)}. Known: {', '.join(sorted(known))}."
        )


class AgentKey(models.Model):
    """A bearer key for agents. Only a SHA-256 of the key is stored; the key is shown once."""

    name = models.CharField(max_length=100, unique=True)
    prefix = models.CharField(max_length=16, help_text="First characters, to recognise the key.")
    key_hash = models.CharField(max_length=64, unique=True)
    is_operator = models.BooleanField(default=False, help_text="May also reset providers.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Per-agent limits (llmfallback/limits.py); empty means no limit.
    rpm_limit = models.PositiveIntegerField(
        "requests per minute", null=True, blank=True, help_text="Empty: no limit. 0 blocks the key."
    )
    tokens_per_day = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Tokens per UTC day. Empty: no limit."
    )
    allowed_providers = models.CharField(
        max_length=500,
        blank=True,
        validators=[validate_provider_list],
        help_text="Comma-separated provider names this key may use. Empty: all.",
    )
    # Usage counters when there is no Redis: each is changed only by one atomic UPDATE in
    # limits.py (never by save()), so workers on any machine share them.
    minute_window = models.BigIntegerField(default=0, editable=False)
    minute_requests = models.PositiveIntegerField(default=0, editable=False)
    day_window = models.IntegerField(default=0, editable=False)
    day_tokens = models.PositiveBigIntegerField(default=0, editable=False)
    requests_total = models.PositiveBigIntegerField(default=0, editable=False)
    tokens_total = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def provider_set(self) -> frozenset[str] | None:
        """The providers this key may use, or None for all."""
        names = frozenset(n.strip() for n in self.allowed_providers.split(",") if n.strip())
        return names or None

    # DRF's IsAuthenticated reads request.user.is_authenticated.
    is_authenticated = True
    is_staff = False


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
