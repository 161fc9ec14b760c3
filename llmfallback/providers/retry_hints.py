"""Turn the providers' many ways of saying "wait" into seconds from now.

Every function here returns None or a finite wait in [0, MAX_WAIT_S] and never raises: a hint is
whatever bytes a provider (or a hostile proxy) chose to send, "inf", "1e15" and year 9999 included.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

import httpx

from llmfallback.core.errors import sane_wait

_GO_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
_GO_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_GO_DURATION = r"(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+"
# Groq: "Please try again in 9m38.016s."; Gemini: "Please retry in 20.04466179s."
_MESSAGE_HINT = re.compile(rf"(?:try again|retry) in ({_GO_DURATION})", re.IGNORECASE)
# Gemini's free-tier daily quotas reset at midnight Pacific time.
# https://ai.google.dev/gemini-api/docs/rate-limits
PACIFIC = ZoneInfo("America/Los_Angeles")


_MAX_HINT_TEXT = 64  # a real duration is a dozen characters; longer is not worth parsing
_MAX_MESSAGE_SCAN = 20_000  # Gemini lists every violated quota before "Please retry in"


def go_duration(text: str) -> float | None:
    """Seconds in a Go duration string ("2m59.56s", "172ms"); None if it is not one."""
    if not isinstance(text, str) or len(text) > _MAX_HINT_TEXT:
        return None
    if not re.fullmatch(_GO_DURATION, text):
        return None
    return sane_wait(sum(float(n) * _GO_UNITS[unit] for n, unit in _GO_PART.findall(text)))


def from_message(message: str) -> float | None:
    """The wait named in an error message ("Please try again in 9m38.016s"), if any."""
    if not isinstance(message, str):
        return None
    match = _MESSAGE_HINT.search(message[:_MAX_MESSAGE_SCAN])
    return go_duration(match.group(1)) if match else None


def from_headers(headers: httpx.Headers, *, now: float) -> float | None:
    """`retry-after-ms` beats `retry-after` (seconds or an HTTP date), as openai-python does."""
    ms = _number(headers.get("retry-after-ms"))
    if ms is not None:
        return sane_wait(ms / 1000)
    value = headers.get("retry-after")
    if not value:
        return None
    seconds = _number(value)
    if seconds is None:
        seconds = _http_date(value, now=now)
    return sane_wait(seconds) if seconds is not None else None


def protobuf_duration(text: str) -> float | None:
    """Seconds in a google.protobuf.Duration JSON string ("37s", "0.5s")."""
    if not isinstance(text, str) or not text.endswith("s"):
        return None
    seconds = _number(text[:-1])
    return sane_wait(seconds) if seconds is not None else None


def until_pacific_midnight(now: float) -> float | None:
    """Seconds from the epoch time `now` to the next midnight in America/Los_Angeles."""
    try:
        local = datetime.fromtimestamp(now, PACIFIC)
        midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), PACIFIC)
        return sane_wait(midnight.timestamp() - now)
    except (OverflowError, OSError, ValueError, TypeError):
        return None


def _number(text: str | None) -> float | None:
    """A finite number, or None: "nan" names no wait; "inf" is capped by sane_wait's callers."""
    if not isinstance(text, str) or len(text) > _MAX_HINT_TEXT:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) else value


def _http_date(text: str, *, now: float) -> float | None:
    # Far-future or far-past dates overflow datetime arithmetic; a hint is never worth a crash.
    try:
        when = parsedate_to_datetime(text)
        if when.tzinfo is None:  # "-0000" dates parse naive; HTTP dates are always UTC
            when = when.replace(tzinfo=UTC)
        return when.timestamp() - now
    except (TypeError, ValueError, IndexError, OverflowError, OSError):
        return None
