"""A caller's own, shorter deadline: `"timeout": <seconds>` in a /v1 body (as LiteLLM's proxy takes
it) or the X-D8-Timeout header on either API. It may shorten LLM_DEADLINE_S, never lengthen it."""

from __future__ import annotations

import math

from llmfallback.providers.openai_input import InvalidRequest

HEADER = "X-D8-Timeout"
META_KEY = "HTTP_X_D8_TIMEOUT"


def requested(meta, body: dict | None = None) -> float | None:
    """The shortest deadline the request asks for (seconds), or None; InvalidRequest if one is
    not a positive number."""
    asked = [
        seconds(meta.get(META_KEY), HEADER),
        seconds(body.get("timeout"), "timeout") if body else None,
    ]
    asked = [s for s in asked if s is not None]
    return min(asked) if asked else None


def seconds(raw, name: str) -> float | None:
    if raw is None or raw == "":
        return None
    try:
        value = float(raw) if not isinstance(raw, bool) else math.nan
    except (TypeError, ValueError, OverflowError):
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise InvalidRequest(f"{name} must be a positive number of seconds.", param=name)
    return value
