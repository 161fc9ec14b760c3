"""Small display helpers for the dashboard templates."""

import json

from django import template
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _

register = template.Library()

STATES = {
    "healthy": _("Healthy"),
    "cooling": _("Cooling down"),
    "unavailable": _("Unavailable"),
    "disabled": _("Disabled"),
    "not_configured": _("Not configured"),
}


@register.filter
def state_label(state: str) -> str:
    return STATES.get(state, state)


@register.filter
def countdown(seconds) -> str:
    """1:05 for 65 seconds; 1:02:03 past an hour."""
    total = max(0, int(float(seconds or 0) + 0.999))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


@register.filter
def ms(value) -> str:
    """1.1 ms below 100 ms (a fast provider is not "1 ms"), whole ms above; in the reader's
    number format, like every other figure on the card ("2,3 ms" beside "66,7 %" in Spanish)."""
    if value is None:
        return "—"
    places = 1 if value < 100 else 0
    # number_format cuts floats at `places`: round first, as f"{:.0f}" did.
    return f"{number_format(round(value, places), places, use_l10n=True)} ms"


@register.filter
def compact_json(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False) if value else "—"
