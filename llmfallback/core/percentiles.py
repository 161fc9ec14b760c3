"""Percentiles from a latency histogram (the counts kept per provider and minute)."""

from __future__ import annotations

import math
from collections.abc import Sequence

# Bounds grow by this ratio. A percentile is reported as the geometric centre of the bucket its
# rank falls in, so it is within sqrt(1.2) - 1 = 9.5 % of the true value whatever the spread.
RATIO = 1.2


def log_bounds(first_ms: float, last_ms: float, ratio: float = RATIO) -> tuple[float, ...]:
    """Upper bounds first_ms, first_ms*ratio, … up to last_ms, rounded to whole microseconds."""
    count = math.floor(math.log(last_ms / first_ms, ratio) + 1e-9)
    bounds = [round(first_ms * ratio**k * 1000) / 1000 for k in range(count + 1)]
    return tuple(bounds if bounds[-1] >= last_ms else [*bounds, float(last_ms)])


def bucket_index(bounds: Sequence[float], latency_ms: float) -> int:
    """The bucket that counts `latency_ms`: the first bound at or above it, len(bounds) above all."""
    lo, hi = 0, len(bounds)
    while lo < hi:  # bisect by hand: bounds may be any sequence
        mid = (lo + hi) // 2
        if bounds[mid] < latency_ms:
            lo = mid + 1
        else:
            hi = mid
    return lo


def histogram_percentile(bounds: Sequence[float], counts: Sequence[int], q: float) -> float | None:
    """The q-th percentile (0-100) of a histogram; None when it is empty.

    `counts` has one entry per upper bound in `bounds` plus a last one for "above the last
    bound". The answer is the geometric centre of the bucket holding the rank: with bounds a
    constant ratio r apart that is within sqrt(r) of the truth. Interpolating linearly inside
    the bucket instead (Prometheus' histogram_quantile) reads a provider answering in 2 ms as
    12 ms when its bucket is 0-25 ms. A rank in the open last bucket reports the last bound.
    """
    total = sum(counts)
    if total <= 0:
        return None
    rank = total * min(max(q, 0.0), 100.0) / 100.0
    seen = 0
    for i, (bound, count) in enumerate(zip(bounds, counts, strict=False)):
        if count and seen + count >= rank:
            return math.sqrt(_lower(bounds, i) * bound)
        seen += count
    return float(bounds[-1])


def _lower(bounds: Sequence[float], i: int) -> float:
    """A bucket's lower bound; the first one, open towards 0, is taken one ratio below."""
    if i > 0:
        return bounds[i - 1]
    ratio = bounds[1] / bounds[0] if len(bounds) > 1 else 2.0
    return bounds[0] / ratio


def merge_counts(histograms: Sequence[Sequence[int]]) -> list[int]:
    """Add histograms bucket by bucket."""
    return [sum(column) for column in zip(*histograms, strict=True)] if histograms else []
