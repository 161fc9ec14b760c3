"""What operators do to providers, from the dashboard, the admin, the API and the terminal:
reset a cooldown, enable, disable, reorder. Each change is audited."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from llmfallback.audit import audit_write
from llmfallback.models import KeyHealth, ProviderHealth


def provider_cooldown_reset(*, name: str, by: str) -> bool:
    """Clear a provider's cooldown and unavailability, and its keys'. True if anything was blocked."""
    row = ProviderHealth.objects.filter(name=name).first()
    if row is None:
        return False
    before = provider_blockers(row)
    if not before:  # nothing blocked it: nothing changes, and the audit log stays quiet
        return False
    cleared = {"cooldown_until": None, "is_unavailable": False, "consecutive_failures": 0}
    with transaction.atomic():
        ProviderHealth.objects.filter(pk=row.pk).update(
            **cleared, cooldown_episodes=0, probe_until=None
        )
        KeyHealth.objects.filter(provider=row).update(**cleared)
        audit_write(actor=by, action="provider_reset", target=name, before=before)
    return True


def provider_is_last_enabled(name: str) -> bool:
    """True when `name` is the only enabled provider: disabling it answers every request 503."""
    return list(ProviderHealth.objects.filter(is_enabled=True).values_list("name", flat=True)) == [
        name
    ]


def provider_disable_leaves_none(names) -> bool:
    """True when disabling `names` would leave no provider enabled (every request a 503)."""
    enabled = set(ProviderHealth.objects.filter(is_enabled=True).values_list("name", flat=True))
    return bool(enabled) and enabled <= set(names)


def provider_blockers(row: ProviderHealth) -> dict:
    """What keeps a provider (or its keys) from being called right now."""
    now = timezone.now()
    blockers = {}
    for label, until, down in [(None, row.cooldown_until, row.is_unavailable)] + [
        (k.label, k.cooldown_until, k.is_unavailable) for k in row.keys.all()
    ]:
        state = {}
        if until and until > now:
            state["cooldown_until"] = until.isoformat()
        if down:
            state["is_unavailable"] = True
        if state:
            blockers[label or "provider"] = state
    return blockers


def provider_reset_all(*, by: str) -> int:
    """Reset every provider's cooldown; returns how many were blocked."""
    names = ProviderHealth.objects.values_list("name", flat=True)
    return sum(provider_cooldown_reset(name=name, by=by) for name in list(names))


def provider_enable(*, name: str, by: str) -> bool:
    """Put a provider back in rotation. True if it was disabled."""
    return _provider_set_enabled(name=name, enabled=True, by=by)


def provider_disable(*, name: str, by: str) -> bool:
    """Take a provider out of rotation. True if it was enabled."""
    return _provider_set_enabled(name=name, enabled=False, by=by)


def _provider_set_enabled(*, name: str, enabled: bool, by: str) -> bool:
    with transaction.atomic():
        changed = ProviderHealth.objects.filter(name=name, is_enabled=not enabled).update(
            is_enabled=enabled
        )
        if changed:
            audit_write(
                actor=by,
                action="provider_enable" if enabled else "provider_disable",
                target=name,
                before={"is_enabled": not enabled},
                after={"is_enabled": enabled},
            )
    return bool(changed)


def provider_move(*, name: str, direction: str, by: str) -> bool:
    """Swap a provider with its neighbour in the priority order ("up" is tried earlier)."""
    if direction not in ("up", "down"):
        raise ValueError(f"direction must be 'up' or 'down', not {direction!r}")
    with transaction.atomic():
        order = list(ProviderHealth.objects.select_for_update().values_list("name", flat=True))
        if name not in order:
            return False
        i = order.index(name)
        j = i - 1 if direction == "up" else i + 1
        if not 0 <= j < len(order):
            return False
        after = order.copy()
        after[i], after[j] = after[j], after[i]
        for priority, row_name in enumerate(after):  # renumber: old rows may share a priority
            ProviderHealth.objects.filter(name=row_name).update(priority=priority)
        audit_write(
            actor=by,
            action=f"provider_move_{direction}",
            target=name,
            before={"order": order},
            after={"order": after},
        )
    return True
