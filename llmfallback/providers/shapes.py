"""Typed reads of JSON a provider sent: a field of the wrong type reads as absent, never crashes.

Providers and the proxies in front of them send `null` where a list belongs, numbers as
strings, a string where an object belongs. The adapters read every field through these.
"""

from __future__ import annotations

import json
import math

MAX_TOKENS_COUNT = 2**31 - 1  # a token count beyond this is nonsense, not usage


def as_dict(value) -> dict:
    """`value` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def as_list(value) -> list:
    """`value` if it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def as_str(value) -> str | None:
    """`value` if it is a string, else None."""
    return value if isinstance(value, str) else None


def as_text(value, limit: int = 2000) -> str:
    """Any JSON value as readable text for an error message (objects are re-encoded)."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    try:
        return json.dumps(value, ensure_ascii=False)[:limit]
    except (TypeError, ValueError, RecursionError):
        return type(value).__name__


def as_count(value) -> int:
    """A token count: numbers and numeric strings, clamped to [0, 2**31-1]; anything else is 0."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return 0
    if isinstance(value, float):
        if not math.isfinite(value):
            return 0
        value = int(value)
    if not isinstance(value, int):
        return 0
    return min(max(value, 0), MAX_TOKENS_COUNT)


def first_dict(value) -> dict | None:
    """The first element of a JSON array when it is an object; None otherwise."""
    items = as_list(value)
    return items[0] if items and isinstance(items[0], dict) else None
