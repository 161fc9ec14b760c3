"""Percentiles from a latency histogram (the counts kept per provider and minute)."""

from __future__ import annotations

from collections.abc import Sequence


def histogram_percentile(bounds: Sequence[float], counts: Sequence[int], q: float) -> float | None:
    """The q-th percentile (0-100) of a histogram; None when it is empty.

    `counts` has one entry per upper bound in `bounds` plus a last one for "above the
    last bound". Inside a bucket we interpolate linearly, as Prometheus'
    histogram_quantile does; a rank in the open last bucket reports the last bound.
    """
    total = sum(counts)
    if total <= 0:
        return None
    rank = total * min(max(q, 0.0), 100.0) / 100.0
    seen, lower = 0, 0.0
    for bound, count in zip(bounds, counts, strict=False):
        if count and seen + count >= rank:
            return lower + (bound - lower) * (rank - seen) / count
        seen, lower = seen + count, bound
    return float(bounds[-1])


def merge_counts(histograms: Sequence[Sequence[int]]) -> list[int]:
    """Add histograms bucket by bucket."""
    return [sum(column) for column in zip(*histograms, strict=True)] if histograms else []
