"""What an escalation says: the provider snapshot, the Markdown proposal, the JSON files. No secrets."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from django.conf import settings

from llmfallback.ops.private_files import private_dir, private_write

from .. import selectors
from ..core.escalation import Decision, Remedy
from ..providers.redact import redact
from ..selectors import provider_secrets
from . import timeline

MESSAGES_KEPT = 20  # the last messages of the triggering request


def provider_status() -> dict:
    """Every provider's state in the seed's escalation shape."""
    return {
        name: {
            "is_available": p["is_available"],
            "in_cooldown": p["in_cooldown"],
            "cooldown_until": p["cooldown_until"],
            "consecutive_failures": p["consecutive_failures"],
            "last_error": p["last_error"],
            "error_type": p["last_error_type"],
        }
        for name, p in selectors.health_report()["providers"].items()
    }


def messages_capped(messages) -> list[dict]:
    """The request's last messages, each redacted and capped by redact()."""
    secrets = provider_secrets()
    return [
        {"role": m.role, "content": redact(m.content, secrets)} for m in messages[-MESSAGES_KEPT:]
    ]


def proposal_markdown(
    *,
    number: int,
    decision: Decision,
    since: datetime,
    attempts,
    status: dict,
    remedies: list[Remedy],
) -> str:
    """A description a person can act on: what failed, since when, what was tried, what to do."""
    return f"""## 🚨 ESCALACIÓN AUTOMÁTICA #{number}

**What failed:** {decision.reason} (trigger `{decision.trigger.value}`).
**Since:** {since.isoformat()}

### What was tried
{_tried(attempts)}

### Providers now
| provider | available | cooling down | consecutive failures | last error |
|---|---|---|---|---|
{_states(status)}

### Suggested remedies
{_offered(remedies)}

Approving this proposal carries out the first remedy. To choose another, file a proposal with
its `remedy` and `remedy_args`. If the providers recover first, this proposal closes by itself.
"""


def _tried(attempts) -> str:
    lines = [
        f"- `{a.provider}` ({a.key}): {a.error_type or 'ok'}{f' HTTP {a.status}' if a.status else ''}"
        for a in attempts
    ]
    return "\n".join(lines) or "- no provider could be called (all cooling down or unavailable)"


def _states(status: dict) -> str:
    return "\n".join(
        f"| {name} | {'yes' if s['is_available'] else 'no'} | {'yes' if s['in_cooldown'] else 'no'} "
        f"| {s['consecutive_failures']} | {s['error_type'] or '-'} |"
        for name, s in status.items()
    )


def _offered(remedies: list[Remedy]) -> str:
    if not remedies:
        return "- none the Congress would accept now: decide by hand"
    return "\n".join(
        f"{i}. `{r.name}` {json.dumps(r.args)}: {r.why}{' **(carried by this proposal)**' if i == 1 else ''}"
        for i, r in enumerate(remedies, 1)
    )


def scrub(value, secrets: tuple[str, ...]):
    """Redact every string in a JSON-like value again (line by line: redact() caps each piece)."""
    if isinstance(value, str):
        return "\n".join(redact(line, secrets) for line in value.split("\n"))
    if isinstance(value, list):
        return [scrub(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: scrub(v, secrets) for k, v in value.items()}
    return value


def json_write(name: str, document: dict) -> Path:
    """Write a redacted JSON document into LLM_DATA_DIR atomically, for the owner only (it holds
    agents' prompts); the final path."""
    folder = private_dir(Path(settings.LLM_DATA_DIR), tighten=True)
    text = json.dumps(
        scrub(document, provider_secrets()), indent=2, ensure_ascii=False, default=str
    )
    return private_write(folder / name, text)


def escalation_file_name(opened_at: datetime, number: int) -> str:
    """The seed's name; a second escalation within the same second gets its number appended."""
    name = f"congress_escalation_{opened_at:%Y%m%d_%H%M%S}.json"
    return (
        name
        if not (Path(settings.LLM_DATA_DIR) / name).exists()
        else name.replace(".json", f"_{number}.json")
    )


def escalation_document(escalation) -> dict:
    """The seed's escalation JSON."""
    return {
        "timestamp": escalation.opened_at.isoformat(),
        "escalation_number": escalation.number,
        "escalation_id": escalation.pk,
        "proposal_code": escalation.proposal.code if escalation.proposal else None,
        "trigger": escalation.trigger,
        "reason": escalation.reason,
        "context": escalation.context,
        "messages": escalation.messages,
        "provider_status": escalation.provider_status,
        "error_history": escalation.error_history,
        "proposal_description": escalation.proposal_description,
    }


def escalation_document_redacted(escalation) -> dict:
    """The document as the file holds it: redacted again, as json_write redacts it."""
    return scrub(escalation_document(escalation), provider_secrets())


def escalation_out(e, *, detail: bool = False, timeline_offset: int = 0) -> dict:
    data = {
        "id": e.pk,
        "number": e.number,
        "status": e.status,
        "trigger": e.trigger,
        "reason": e.reason,
        "providers": e.providers,
        "opened_at": e.opened_at.isoformat(),
        "first_seen_at": e.first_seen_at.isoformat(),
        "last_seen_at": e.last_seen_at.isoformat(),
        "closed_at": e.closed_at.isoformat() if e.closed_at else None,
        "failed_requests": e.failed_requests,
        "failures": e.failures,
        "proposal_code": e.proposal.code if e.proposal else None,
        "proposal_status": e.proposal.status if e.proposal else None,
        "file_name": e.file_name,
        "file_host": e.file_host,
    }
    if detail:
        data |= {
            "context": e.context,
            "messages": e.messages,
            "provider_status": e.provider_status,
            "error_history": e.error_history,
            "proposal_description": e.proposal_description,
        } | timeline_out(e, offset=timeline_offset, detail=True)
    return data


def timeline_out(e, *, offset: int, detail: bool) -> dict:
    """One page of the timeline, with its total and the offset of the next page (or None)."""
    page = timeline.timeline_page(e, offset=offset)
    events = [timeline.event_out(ev, detail=detail) for ev in page.pop("events")]
    return {"timeline": events} | page


def state_export() -> str:
    """Write fallback_state.json: the health report plus the escalations, redacted again."""
    from ..models import Escalation

    escalations = Escalation.objects.select_related("proposal")[:50]
    state = selectors.health_report() | {"escalations": [escalation_out(e) for e in escalations]}
    return str(json_write("fallback_state.json", state))
