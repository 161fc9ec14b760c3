"""Who hears of a proposal's decision. The gateway records approvals and rejections in its
audit log from here, so congress imports nothing of it (as with remedies.py)."""

from __future__ import annotations

from collections.abc import Callable

Listener = Callable[..., None]  # func(*, proposal, status: str, by: str, note: str) -> None

_listeners: list[Listener] = []


def on_decision(func: Listener) -> None:
    """Call `func` inside the deciding transaction whenever a proposal is approved or rejected."""
    if func not in _listeners:
        _listeners.append(func)


def decided(*, proposal, status: str, by: str, note: str = "") -> None:
    for func in _listeners:
        func(proposal=proposal, status=status, by=by, note=note)
