"""Auth probes: keys taken out for an authentication failure are tried again without a chat.

A key marked unavailable stays out of every request until someone acts. The probe task checks
each such key on the provider's non-billed endpoint (GET /models for OpenAI-compatible
servers, Gemini's models.get) and readmits it, with an audit entry, once the provider accepts
it again. No chat is ever sent, so probes spend no tokens.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Q

from llmfallback.audit import audit_write
from llmfallback.core.errors import ProviderError
from llmfallback.core.types import Timeouts
from llmfallback.models import KeyHealth, ProviderHealth

ACTOR = "llmfallback:probe"
AUTH = "auth"


def auth_probes_run() -> dict[str, str]:
    """Probe every key out for authentication; {"provider/label": outcome} for each one tried.

    Outcomes: "readmitted"; "refused" (still an auth error); "unreachable" (any other failure:
    nothing learnt about the key, so it stays out).
    """
    from llmfallback.runtime import runtime  # the process's adapters and their shared client

    adapters = runtime().providers
    outcomes = {}
    for row in _auth_blocked_keys():
        adapter = adapters.get(row.provider.name)
        key = next((k for k in getattr(adapter, "keys", ()) if k.label == row.label), None)
        if key is None or not hasattr(adapter, "probe"):
            continue  # no longer configured: nothing to call
        outcome = _probe(adapter, key)
        if outcome == "readmitted" and not _readmit(row):
            continue  # someone else readmitted it meanwhile: one audit entry, theirs
        outcomes[f"{row.provider.name}/{row.label}"] = outcome
    return outcomes


def _auth_blocked_keys():
    """Keys out for authentication, and every key of a provider out for it, of enabled providers."""
    key_out = Q(is_unavailable=True, last_error_type=AUTH)
    provider_out = Q(provider__is_unavailable=True, provider__last_error_type=AUTH)
    return (
        KeyHealth.objects.select_related("provider")
        .filter(key_out | provider_out, provider__is_enabled=True)
        .order_by("provider__name", "label")
    )


def _probe(adapter, key) -> str:
    timeouts = Timeouts(
        connect=settings.LLM_CONNECT_TIMEOUT_S,
        read=settings.LLM_READ_TIMEOUT_S,
        total=settings.LLM_ATTEMPT_TIMEOUT_S,
    )
    try:
        adapter.probe(key=key, timeouts=timeouts)
    except ProviderError as error:
        return "refused" if error.kind.value == AUTH else "unreachable"
    return "readmitted"


def _readmit(row: KeyHealth) -> bool:
    """Clear the key's (and an auth-blocked provider's) unavailability; audit it once."""
    cleared = {"is_unavailable": False, "consecutive_failures": 0}
    key_done = KeyHealth.objects.filter(pk=row.pk, is_unavailable=True).update(**cleared)
    provider_done = ProviderHealth.objects.filter(
        pk=row.provider_id, is_unavailable=True, last_error_type=AUTH
    ).update(**cleared)
    if not (key_done or provider_done):
        return False
    audit_write(
        actor=ACTOR,
        action="key_readmitted",
        target=f"{row.provider.name}/{row.label}",
        before={"is_unavailable": True, "last_error_type": row.last_error_type},
        after={"is_unavailable": False},
        note="The provider accepted the key again on its non-billed model endpoint.",
    )
    return True
