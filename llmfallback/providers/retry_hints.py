"""Turn the providers' many ways of saying "wait" into seconds from now."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

import httpx

_GO_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
_GO_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_GO_DURATION = r"(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+"
# Groq: "Please try again in 9m38.016s."; Gemini: "Please retry in 20.04466179s."
_MESSAGE_HINT = re.compile(rf"(?:try again|retry) in ({_GO_DURATION})", re.IGNORECASE)
# Gemini's free-tier daily quotas reset at midnight Pacific time.
# https://ai.google.dev/gemini-api/docs/rate-limits
PACIFIC = ZoneInfo("America/Los_Angeles")


def go_duration(text: str) -> float | None:
    """Seconds in a Go duration string ("2m59.56s", "172ms"); None if it is not one."""
    if not re.fullmatch(_GO_DURATION, text or ""):
        return None
    return sum(float(n) * _GO_UNITS[unit] for n, unit in _GO_PART.findall(text))


def from_message(message: str) -> float | None:
    """The wait named in an error message ("Please try again in 9m38.016s"), if any."""
    match = _MESSAGE_HINT.search(message or "")
    return go_duration(match.group(1)) if match else None


def from_headers(headers: httpx.Headers, *, now: float) -> float | None:
    """`retry-after-ms` beats `retry-after` (seconds or an HTTP date), as openai-python does."""
    ms = _number(headers.get("retry-after-ms"))
    if ms is not None:
        return max(ms / 1000, 0.0)
    value = headers.get("retry-after")
    if not value:
        return None
    seconds = _number(value)
    if seconds is None:
        seconds = _http_date(value, now=now)
    return None if seconds is None else max(seconds, 0.0)


def protobuf_duration(text: str) -> float | None:
    """Seconds in a google.protobuf.Duration JSON string ("37s", "0.5s")."""
    return _number(text[:-1]) if isinstance(text, str) and text.endswith("s") else None


def until_pacific_midnight(now: float) -> float:
    """Seconds from the epoch time `now` to the next midnight in America/Los_Angeles."""
    local = datetime.fromtimestamp(now, PACIFIC)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), PACIFIC)
    return midnight.timestamp() - now


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _http_date(text: str, *, now: float) -> float | None:
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" dates parse naive; HTTP dates are always UTC
        when = when.replace(tzinfo=UTC)
    return when.timestamp() - now
