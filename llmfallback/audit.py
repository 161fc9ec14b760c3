"""Every audit entry is written here, so an entry made while a Congress remedy runs names the
proposal that ran it, and a proposal's approval or rejection lands in the same log."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from .models import AuditEntry

_note: ContextVar[str] = ContextVar("audit_note", default="")


def audit_write(
    *,
    actor: str,
    action: str,
    target: str = "",
    before: dict | None = None,
    after: dict | None = None,
    note: str = "",
) -> AuditEntry:
    """One append-only entry; without a note of its own it carries the running remedy's."""
    return AuditEntry.objects.create(
        actor=actor,
        action=action,
        target=target,
        before=before or {},
        after=after or {},
        note=note or _note.get(),
    )


@contextmanager
def audit_note(note: str) -> Iterator[None]:
    """Entries written inside carry `note` (e.g. "remedy of proposal PROP-1a2b3c4d")."""
    token = _note.set(note)
    try:
        yield
    finally:
        _note.reset(token)


def proposal_decided(*, proposal, status: str, by: str, note: str = "") -> None:
    """The Congress's listener: an approval or rejection is an operator decision on record."""
    audit_write(
        actor=by,
        action=f"proposal_{status}",
        target=proposal.code,
        after={"status": status, "remedy": proposal.remedy, "remedy_args": proposal.remedy_args},
        note=" · ".join(part for part in (proposal.title, note) if part),
    )
