"""Proposals and votes. The lifecycle rules live in lifecycle.py, the tally in voting.py."""

import secrets

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from .lifecycle import Status
from .voting import MAX_WEIGHT, Choice, Rule


def new_code() -> str:
    return f"PROP-{secrets.token_hex(4)}"


class Category(models.TextChoices):
    TECHNICAL = "technical", _("Technical")
    NICHE_DISCOVERY = "niche_discovery", _("Niche discovery")
    RESOURCE_ALLOCATION = "resource_allocation", _("Resource allocation")
    TECHNOLOGY_ADOPTION = "technology_adoption", _("Technology adoption")
    STRATEGIC_DIRECTION = "strategic_direction", _("Strategic direction")
    PROCESS_IMPROVEMENT = "process_improvement", _("Process improvement")
    MONETIZATION = "monetization", _("Monetization")
    OPERATIONAL = "operational", _("Operational")


# What people read for the values lifecycle.py and voting.py keep plain (they import no Django).
STATUS_LABELS = {
    Status.DRAFT: _("draft"),
    Status.SUBMITTED: _("submitted"),
    Status.UNDER_REVIEW: _("under review"),
    Status.VOTING: _("voting"),
    Status.APPROVED: _("approved"),
    Status.REJECTED: _("rejected"),
    Status.IMPLEMENTED: _("implemented"),
    Status.ARCHIVED: _("archived"),
}
RULE_LABELS = {
    Rule.SIMPLE: _("simple majority"),
    Rule.SUPERMAJORITY: _("two-thirds majority"),
    Rule.QUALIFIED: _("three-quarters majority"),
    Rule.UNANIMOUS: _("unanimous"),
}
CHOICE_LABELS = {Choice.YES: _("yes"), Choice.NO: _("no"), Choice.ABSTAIN: _("abstain")}


class Proposal(models.Model):
    """Something agents and people decide on; may carry a remedy that runs once approved."""

    code = models.CharField(_("code"), max_length=16, unique=True, default=new_code, editable=False)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True, help_text=_("Markdown."))
    category = models.CharField(
        _("category"), max_length=32, choices=Category.choices, default=Category.TECHNICAL
    )
    priority = models.PositiveSmallIntegerField(
        _("priority"),
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text=_("1 = critical."),
    )
    tags = models.JSONField(_("tags"), default=list, blank=True)
    metadata = models.JSONField(_("metadata"), default=dict, blank=True)
    proposed_by = models.CharField(
        _("proposed by"), max_length=150, help_text=_("agent:<key name> or user:<username>.")
    )
    source = models.CharField(
        _("source"),
        max_length=100,
        blank=True,
        help_text=_("What filed it, e.g. llmfallback.escalation:3."),
    )
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=[(s.value, STATUS_LABELS[s]) for s in Status],
        default=Status.DRAFT,
        db_index=True,
    )
    remedy = models.CharField(
        _("remedy"),
        max_length=64,
        blank=True,
        help_text=_("A registered remedy run once approved."),
    )
    remedy_args = models.JSONField(_("remedy args"), default=dict, blank=True)
    voting_rule = models.CharField(
        _("voting rule"),
        max_length=16,
        choices=[(r.value, RULE_LABELS[r]) for r in Rule],
        default=Rule.SIMPLE,
    )
    quorum = models.PositiveIntegerField(
        _("quorum"), default=1, help_text=_("Minimum number of non-abstaining votes.")
    )
    electorate = models.PositiveIntegerField(
        _("electorate"),
        null=True,
        blank=True,
        help_text=_("Eligible voters, if known: voting then closes once the outcome is settled."),
    )
    voting_deadline = models.DateTimeField(_("voting deadline"), null=True, blank=True)
    decided_by = models.CharField(_("decided by"), max_length=150, blank=True)
    rejection_note = models.TextField(_("rejection note"), blank=True)
    resolution_note = models.TextField(_("resolution note"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    review_started_at = models.DateTimeField(_("review started at"), null=True, blank=True)
    voting_opened_at = models.DateTimeField(_("voting opened at"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    implemented_at = models.DateTimeField(_("implemented at"), null=True, blank=True)
    archived_at = models.DateTimeField(_("archived at"), null=True, blank=True)
    # A remedy that failed when carried out: why and when; the proposal stays approved until a
    # retry succeeds (admin action "Retry the remedy"), never silently stuck.
    remedy_error = models.TextField(_("remedy error"), blank=True, editable=False)
    remedy_failed_at = models.DateTimeField(
        _("remedy failed at"), null=True, blank=True, editable=False
    )
    remedy_attempts = models.PositiveIntegerField(_("remedy attempts"), default=0, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("proposal")
        verbose_name_plural = _("proposals")
        indexes = [models.Index(fields=["status", "voting_deadline"])]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"


class Voter(models.Model):
    """A voter's standing, set by staff in the admin: what each of its votes weighs.

    Voters without a record weigh 1. A request never chooses its own weight.
    """

    name = models.CharField(
        _("name"), max_length=150, unique=True, help_text=_("agent:<key name> or user:<username>.")
    )
    weight = models.FloatField(
        _("weight"), default=1, validators=[MinValueValidator(0.01), MaxValueValidator(MAX_WEIGHT)]
    )
    note = models.CharField(_("note"), max_length=300, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = models.CharField(_("updated by"), max_length=150, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("voter")
        verbose_name_plural = _("voters")

    def __str__(self) -> str:
        return _("%(name)s (weight %(weight)s)") % {"name": self.name, "weight": f"{self.weight:g}"}


class Vote(models.Model):
    """One voter's current vote on a proposal; changing it updates this row."""

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="votes")
    voter = models.CharField(
        _("voter"), max_length=150, help_text=_("agent:<key name> or user:<username>.")
    )
    choice = models.CharField(
        _("choice"), max_length=8, choices=[(c.value, CHOICE_LABELS[c]) for c in Choice]
    )
    weight = models.FloatField(
        _("weight"), default=1, validators=[MinValueValidator(0.01), MaxValueValidator(MAX_WEIGHT)]
    )
    reason = models.TextField(_("reason"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("vote")
        verbose_name_plural = _("votes")
        constraints = [
            models.UniqueConstraint(fields=["proposal", "voter"], name="one_vote_per_voter")
        ]

    def __str__(self) -> str:
        return f"{self.voter}: {self.choice}"
