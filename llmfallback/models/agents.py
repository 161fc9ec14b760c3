"""Agent keys: who calls the gateway, with its limits and its usage counts."""

from django.db import models
from django.utils.translation import gettext_lazy as _


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


def validate_route_list(value: str) -> None:
    """Only routes LLM_ROUTES defines, or "auto"."""
    from django.conf import settings
    from django.core.exceptions import ValidationError

    known = {"auto", *settings.LLM_ROUTES}
    unknown = sorted({n.strip() for n in value.split(",") if n.strip()} - known)
    if unknown:
        raise ValidationError(
            f"Unknown route(s): {', '.join(unknown)}. Known: {', '.join(sorted(known))}."
        )


class AgentKey(models.Model):
    """A bearer key for agents. Only a SHA-256 of the key is stored; the key is shown once."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    prefix = models.CharField(
        _("prefix"), max_length=16, help_text=_("First characters, to recognise the key.")
    )
    key_hash = models.CharField(max_length=64, unique=True)
    is_operator = models.BooleanField(
        _("is operator"), default=False, help_text=_("May also reset providers.")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    # Per-agent limits (llmfallback/access/limits.py); empty means no limit.
    rpm_limit = models.PositiveIntegerField(
        _("requests per minute"),
        null=True,
        blank=True,
        help_text=_("Empty: no limit. 0 blocks the key."),
    )
    tokens_per_day = models.PositiveBigIntegerField(
        _("tokens per day"),
        null=True,
        blank=True,
        help_text=_("Tokens per UTC day. Empty: no limit."),
    )
    allowed_providers = models.CharField(
        _("allowed providers"),
        max_length=500,
        blank=True,
        validators=[validate_provider_list],
        help_text=_("Comma-separated provider names this key may use. Empty: all."),
    )
    # Named routes (LLM_ROUTES): the one "auto" means for this key, and those it may name.
    default_route = models.CharField(
        _("default route"),
        max_length=64,
        blank=True,
        validators=[validate_route_list],
        help_text=_('The route "auto" means for this key. Empty: LLM_DEFAULT_ROUTE.'),
    )
    allowed_routes = models.CharField(
        _("allowed routes"),
        max_length=500,
        blank=True,
        validators=[validate_route_list],
        help_text=_('Comma-separated routes this key may name ("auto" included). Empty: any.'),
    )
    # Usage counters when there is no Redis: each is changed only by one atomic UPDATE in
    # access/counters.py (never by save()), so workers on any machine share them.
    minute_window = models.BigIntegerField(_("minute window"), default=0, editable=False)
    minute_requests = models.PositiveIntegerField(_("minute requests"), default=0, editable=False)
    day_window = models.IntegerField(_("day window"), default=0, editable=False)
    day_tokens = models.PositiveBigIntegerField(_("day tokens"), default=0, editable=False)
    requests_total = models.PositiveBigIntegerField(_("requests total"), default=0, editable=False)
    tokens_total = models.PositiveBigIntegerField(_("tokens total"), default=0, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("agent key")
        verbose_name_plural = _("agent keys")

    def __str__(self) -> str:
        return self.name

    @property
    def provider_set(self) -> frozenset[str] | None:
        """The providers this key may use, or None for all."""
        names = frozenset(n.strip() for n in self.allowed_providers.split(",") if n.strip())
        return names or None

    @property
    def route_set(self) -> frozenset[str] | None:
        """The routes this key may name, or None for any (providers and provider/model too)."""
        names = frozenset(n.strip() for n in self.allowed_routes.split(",") if n.strip())
        return names or None

    # DRF's IsAuthenticated reads request.user.is_authenticated.
    is_authenticated = True
    is_staff = False
