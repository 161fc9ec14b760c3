"""Proposals and votes. The lifecycle rules live in lifecycle.py, the tally in voting.py."""

import secrets

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from .lifecycle import Status
from .voting import MAX_WEIGHT, Choice, Rule


def new_code() -> str:
    return f"PROP-{secrets.token_hex(4)}"


class Category(models.TextChoices):
    TECHNICAL = "technical"
    NICHE_DISCOVERY = "niche_discovery"
    RESOURCE_ALLOCATION = "resource_allocation"
    TECHNOLOGY_ADOPTION = "technology_adoption"
    STRATEGIC_DIRECTION = "strategic_direction"
    PROCESS_IMPROVEMENT = "process_improvement"
    MONETIZATION = "monetization"
    OPERATIONAL = "operational"


class Proposal(models.Model):
    """Something agents and people decide on; may carry a remedy that runs once approved."""

    code = models.CharField(max_length=16, unique=True, default=new_code, editable=False)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, help_text="Markdown.")
    category = models.CharField(max_length=32, choices=Category.choices, default=Category.TECHNICAL)
    priority = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text="1 = critical.",
    )
    tags = models.JSONField(default=list, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    proposed_by = models.CharField(max_length=150, help_text="agent:<key name> or user:<username>.")
    source = models.CharField(
        max_length=100, blank=True, help_text="What filed it, e.g. llmfallback.escalation:3."
    )
    status = models.CharField(
        max_length=16,
        choices=[(s.value, s.value) for s in Status],
        default=Status.DRAFT,
        db_index=True,
    )
    remedy = models.CharField(
        max_length=64, blank=True, help_text="A registered remedy run once approved."
    )
    remedy_args = models.JSONField(default=dict, blank=True)
    voting_rule = models.CharField(
        max_length=16, choices=[(r.value, r.value) for r in Rule], default=Rule.SIMPLE
    )
    quorum = models.PositiveIntegerField(
        default=1, help_text="Minimum number of non-abstaining votes."
    )
    electorate = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Eligible voters, if known: voting then closes once the outcome is settled.",
    )
    voting_deadline = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=150, blank=True)
    rejection_note = models.TextField(blank=True)
    resolution_note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    review_started_at = models.DateTimeField(null=True, blank=True)
    voting_opened_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    implemented_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    # A remedy that failed when carried out: why and when; the proposal stays approved until a
    # retry succeeds (admin action "Retry the remedy"), never silently stuck.
    remedy_error = models.TextField(blank=True, editable=False)
    remedy_failed_at = models.DateTimeField(null=True, blank=True, editable=False)
    remedy_attempts = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "voting_deadline"])]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"


class Voter(models.Model):
    """A voter's standing, set by staff in the admin: what each of its votes weighs.

    Voters without a record weigh 1. A request never chooses its own weight.
    """

    name = models.CharField(
        max_length=150, unique=True, help_text="agent:<key name> or user:<username>."
    )
    weight = models.FloatField(
        default=1, validators=[MinValueValidator(0.01), MaxValueValidator(MAX_WEIGHT)]
    )
    note = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=150, blank=True, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} (weight {self.weight:g})"


class Vote(models.Model):
    """One voter's current vote on a proposal; changing it updates this row."""

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="votes")
    voter = models.CharField(max_length=150, help_text="agent:<key name> or user:<username>.")
    choice = models.CharField(max_length=8, choices=[(c.value, c.value) for c in Choice])
    weight = models.FloatField(
        default=1, validators=[MinValueValidator(0.01), MaxValueValidator(MAX_WEIGHT)]
    )
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["proposal", "voter"], name="one_vote_per_voter")
        ]

    def __str__(self) -> str:
        return f"{self.voter}: {self.choice}"
