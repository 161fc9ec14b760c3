"""Shared provider health, error history and usage: every worker on every machine reads these rows."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from ..core.percentiles import log_bounds


class HealthState(models.Model):
    """What both a provider and each of its keys keep: availability, cooldown, counts, last error."""

    is_unavailable = models.BooleanField(
        _("is unavailable"), default=False, help_text=_("Set by auth failures; reset by hand.")
    )
    cooldown_until = models.DateTimeField(_("cooldown until"), null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(_("consecutive failures"), default=0)
    total_requests = models.PositiveBigIntegerField(_("total requests"), default=0)
    total_failures = models.PositiveBigIntegerField(_("total failures"), default=0)
    last_error_type = models.CharField(_("last error type"), max_length=32, blank=True)
    last_error_message = models.TextField(_("last error message"), blank=True)
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True)
    # The last failure that was the provider's own fault (not a refused request): a success
    # written later from a buffer resets the counts only if it came after this.
    last_failure_at = models.DateTimeField(
        _("last failure at"), null=True, blank=True, editable=False
    )
    # Sum over every attempt, served or failed: the average is latency_total_ms / total_requests.
    latency_total_ms = models.FloatField(_("latency total ms"), default=0)

    class Meta:
        abstract = True


class ProviderHealth(HealthState):
    """Current state of one provider, updated with narrow F() updates; history lives in ErrorEvent."""

    name = models.CharField(_("name"), max_length=64, unique=True)
    priority = models.PositiveIntegerField(
        _("priority"), default=0, help_text=_("Lower is tried first.")
    )
    is_enabled = models.BooleanField(
        _("is enabled"), default=True, help_text=_("Operators can take a provider out.")
    )
    last_success_at = models.DateTimeField(_("last success at"), null=True, blank=True)
    # Cooldowns since the last success. Adaptive cooldowns double with each new episode (a failure
    # after the last cooldown ended), never with failures of requests in flight together.
    cooldown_episodes = models.PositiveIntegerField(_("cooldown episodes"), default=0)
    # Half-open lease: when a cooldown ends, the one request that sets this (a conditional UPDATE)
    # calls the provider; the others keep falling back until it succeeds or the lease lapses.
    probe_until = models.DateTimeField(_("probe until"), null=True, blank=True, editable=False)
    # Position in LLM_PROVIDER_PRIORITY when last seen: when the configuration reorders
    # providers, the configuration wins over operators' earlier changes to `priority`.
    configured_rank = models.PositiveIntegerField(
        _("configured rank"), null=True, blank=True, editable=False
    )

    class Meta:
        ordering = ["priority", "name"]
        verbose_name = _("provider health")
        verbose_name_plural = _("provider health")

    def __str__(self) -> str:
        return self.name


class KeyHealth(HealthState):
    """State of one API key of a provider; identified by its label (k1, k2…), never its secret."""

    provider = models.ForeignKey(ProviderHealth, on_delete=models.CASCADE, related_name="keys")
    label = models.CharField(_("label"), max_length=32)
    # A truncated SHA-256 of the configured secret: a new key under the same label starts clean.
    fingerprint = models.CharField(max_length=16, blank=True, editable=False)

    class Meta:
        ordering = ["provider__priority", "label"]
        verbose_name = _("key health")
        verbose_name_plural = _("key health")
        constraints = [
            models.UniqueConstraint(fields=["provider", "label"], name="unique_key_label")
        ]

    def __str__(self) -> str:
        return f"{self.provider.name}/{self.label}"


class ErrorEvent(models.Model):
    """Append-only error history. Messages are redacted before they get here."""

    created_at = models.DateTimeField(_("created at"), db_index=True)
    provider = models.CharField(_("provider"), max_length=64, db_index=True)
    key = models.CharField(_("key"), max_length=32, blank=True)
    error_type = models.CharField(_("error type"), max_length=32, db_index=True)
    status = models.PositiveSmallIntegerField(_("status"), null=True, blank=True)
    message = models.TextField(_("message"), blank=True)
    latency_ms = models.FloatField(_("latency ms"), default=0)
    cooldown_until = models.DateTimeField(_("cooldown until"), null=True, blank=True)
    # The provider refused the request itself (too large, blocked, unusable for this request):
    # shown in the history like every failure, never counted towards an escalation.
    refused = models.BooleanField(_("refused"), default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("error event")
        verbose_name_plural = _("error events")

    def __str__(self) -> str:
        return f"{self.provider} {self.error_type} · {self.created_at:%Y-%m-%d %H:%M:%S}"


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

    provider = models.CharField(_("provider"), max_length=64, blank=True)
    minute = models.DateTimeField(_("minute"))
    requests = models.PositiveIntegerField(_("requests"), default=0)
    failures = models.PositiveIntegerField(_("failures"), default=0)
    latency_sum_ms = models.FloatField(_("latency sum ms"), default=0)
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

    name = models.CharField(_("name"), max_length=64, unique=True)
    value = models.PositiveBigIntegerField(_("value"), default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"
