"""What the Congress may do to the gateway once a proposal is approved; each change is audited."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext_lazy

from congress import remedies
from llmfallback import services
from llmfallback.audit import audit_note, audit_write
from llmfallback.health.overrides import THRESHOLDS, override_set, override_value
from llmfallback.models import ProviderHealth


def _provider_cooldown_reset(*, actor: str, provider: str) -> dict:
    """Clear the provider's cooldowns now."""
    return {
        "provider": provider,
        "was_blocked": services.provider_cooldown_reset(name=provider, by=actor),
    }


def _provider_disable(*, actor: str, provider: str) -> dict:
    """Stop calling the provider until an operator enables it again."""
    if not ProviderHealth.objects.filter(name=provider).exists():
        raise ProviderHealth.DoesNotExist(f"No provider named {provider!r}.")
    return {"provider": provider, "was_enabled": services.provider_disable(name=provider, by=actor)}


def _provider_demote(*, actor: str, provider: str) -> dict:
    """Move the provider to the end of the priority order."""
    last = ProviderHealth.objects.aggregate(m=Max("priority"))["m"] or 0
    return _provider_set(actor, provider, "provider_demote", priority=last + 1)


def _threshold_raise(*, actor: str, name: str, value: int) -> dict:
    """Raise an escalation threshold; lowering is not a remedy."""
    if value <= override_value(name):
        raise ValueError(f"{name} is already {override_value(name)}; {value} would not raise it.")
    return override_set(name=name, value=value, by=actor)


def provider_check(*, provider: str) -> None:
    if not isinstance(provider, str) or not ProviderHealth.objects.filter(name=provider).exists():
        raise remedies.InvalidRemedy(f"No provider named {provider!r}.")


def provider_disable_check(*, provider: str) -> None:
    provider_check(provider=provider)
    others = ProviderHealth.objects.filter(is_enabled=True).exclude(name=provider)
    if not others.exists():
        raise remedies.InvalidRemedy(
            f"{provider} is the last enabled provider: disabling it stops every answer."
        )


def threshold_check(*, name: str, value: int) -> None:
    if name not in THRESHOLDS:
        raise remedies.InvalidRemedy(
            f"{name!r} is not a threshold; one of {', '.join(sorted(THRESHOLDS))}."
        )
    if isinstance(value, bool) or not isinstance(value, int):
        raise remedies.InvalidRemedy("value must be a whole number.")
    if value <= override_value(name):
        raise remedies.InvalidRemedy(
            f"{name} is already {override_value(name)}; {value} would not raise it."
        )


def _provider_set(actor: str, provider: str, action: str, **fields) -> dict:
    with transaction.atomic():
        row = ProviderHealth.objects.select_for_update().get(name=provider)
        before = {f: getattr(row, f) for f in fields}
        ProviderHealth.objects.filter(pk=row.pk).update(**fields)
        audit_write(actor=actor, action=action, target=provider, before=before, after=fields)
    return {"provider": provider, "before": before, "after": fields}


def _of_proposal(func):
    """The remedy as the Congress runs it: its audit entries name the proposal that ran it."""

    def run(*, actor: str, proposal: str = "", **args) -> dict:
        with audit_note(f"remedy of proposal {proposal}" if proposal else ""):
            return func(actor=actor, **args)

    return run


provider_cooldown_reset = _of_proposal(_provider_cooldown_reset)
provider_disable = _of_proposal(_provider_disable)
provider_demote = _of_proposal(_provider_demote)
threshold_raise = _of_proposal(_threshold_raise)


def register_all() -> None:
    """Called from LlmFallbackConfig.ready()."""
    register = remedies.register
    register(
        "provider_cooldown_reset",
        provider_cooldown_reset,
        gettext_lazy("Reset a provider's cooldown"),
        provider_check,
    )
    register(
        "provider_disable",
        provider_disable,
        gettext_lazy("Disable a provider"),
        provider_disable_check,
    )
    register(
        "provider_demote",
        provider_demote,
        gettext_lazy("Move a provider to the end of the priority order"),
        provider_check,
    )
    register(
        "threshold_raise",
        threshold_raise,
        gettext_lazy("Raise an escalation threshold"),
        threshold_check,
    )
