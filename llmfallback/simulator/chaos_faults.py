"""What each chaos fault class sends, as the provider really sends it (see the provider modules).

Rate limits name the time the burst has left the way each provider does: Groq in `retry-after`
and "Please try again in …s", Gemini only in RetryInfo.retryDelay, DeepSeek not at all. A client
that honours the hint therefore comes back when the provider is healthy again.
"""

from __future__ import annotations

import math

from .chaos import Burst

TRICKLE_INTERVAL_S = 0.5  # DeepSeek's queue writes a keep-alive line about this often
SLOW_HEADER_INTERVAL_S = 1.0


def fault_step(burst: Burst, left_s: float, stall_s: float) -> tuple[str, dict]:
    """(behaviour name, params) for one request hitting `burst` with `left_s` of it to go."""
    fault, variant = burst.fault, burst.variant
    if fault == "rate_limit":
        return "rate_limit", _rate_limit_hint(burst.provider, left_s)
    if fault == "quota" and burst.provider == "groq":
        # The rolling daily window: the message and retry-after name the time the burst has left.
        return "quota", {"wait": f"{left_s:.3f}s", "retry_after": max(1, math.ceil(left_s))}
    if fault in ("unavailable", "edge_page"):
        return "unavailable", {"variant": variant}
    if fault == "hang":
        return "hang", {"hang_s": stall_s}
    if fault == "trickle":
        params = {"then": "forever", "interval_s": TRICKLE_INTERVAL_S, "max_s": stall_s}
        return "keepalive", params | {"line": variant or "blank"}
    if fault == "slow_headers":
        return "slow_headers", {"interval_s": SLOW_HEADER_INTERVAL_S, "duration_s": stall_s}
    if fault == "empty":
        return "empty", {"variant": variant} if variant == "empty_content" else {}
    return fault, {}  # other quotas, malformed, truncated, error_in_200: the provider's own bytes


def _rate_limit_hint(provider: str, left_s: float) -> dict:
    seconds = max(1, math.ceil(left_s))
    if provider == "groq":
        return {"retry_after": seconds}
    if provider == "gemini":
        return {"retry_delay": f"{seconds}s"}
    return {}  # DeepSeek and local servers never say how long to wait
