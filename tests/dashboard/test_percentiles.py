import random

import pytest

from llmfallback.core.percentiles import (
    bucket_index,
    histogram_percentile,
    log_bounds,
    merge_counts,
)
from llmfallback.models import LATENCY_BOUNDS_MS, LATENCY_COLUMNS

BOUNDS = LATENCY_BOUNDS_MS


def histogram(latencies_ms) -> list[int]:
    counts = [0] * (len(BOUNDS) + 1)
    for ms in latencies_ms:
        counts[bucket_index(BOUNDS, ms)] += 1
    return counts


def true_percentile(values, q) -> float:
    """Nearest rank: the smallest value with at least q % of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, -(-len(ordered) * q // 100) - 1)]


def test_the_bounds_run_from_1_ms_to_60_s_at_most_20_percent_apart():
    assert (BOUNDS[0], BOUNDS[-1]) == (1.0, 60_000.0)
    assert max(b / a for a, b in zip(BOUNDS, BOUNDS[1:], strict=False)) < 1.2005
    assert len(LATENCY_COLUMNS) == len(BOUNDS) + 1 and LATENCY_COLUMNS[-1] == "h_inf"


def test_the_migration_wrote_the_same_bounds_as_the_model():
    from importlib import import_module

    migration = import_module("llmfallback.migrations.0009_log_latency_buckets")
    assert tuple(migration.BOUNDS) == BOUNDS == log_bounds(1, 60_000)


@pytest.mark.parametrize("ms", [1, 1.3, 2, 5, 12, 50, 333, 500, 2_000, 7_777, 10_000])
def test_a_fixed_latency_reads_back_within_10_percent(ms):
    counts = histogram([ms] * 100)
    for q in (50, 95, 99):
        assert histogram_percentile(BOUNDS, counts, q) == pytest.approx(ms, rel=0.10)


@pytest.mark.parametrize("centre_ms", [1.5, 5, 50, 500, 2_000, 10_000])
def test_percentiles_of_a_spread_distribution_are_within_10_percent(centre_ms):
    rng = random.Random(centre_ms)
    values = [centre_ms * rng.lognormvariate(0, 0.6) for _ in range(2_000)]
    counts = histogram(values)
    for q in (50, 95):
        assert histogram_percentile(BOUNDS, counts, q) == pytest.approx(
            true_percentile(values, q), rel=0.10
        )


def test_a_fast_provider_is_not_read_as_the_middle_of_a_wide_first_bucket():
    # The old 0-25 ms bucket, interpolated, showed every 1-6 ms provider as p50 12 / p95 24 ms.
    counts = histogram([1.0, 2.0, 3.0, 4.0, 5.0, 6.0] * 10)
    assert histogram_percentile(BOUNDS, counts, 50) < 4
    assert histogram_percentile(BOUNDS, counts, 95) < 7


def test_bucket_edges_are_inclusive_upper_bounds():
    assert bucket_index(BOUNDS, 0.0) == 0
    assert bucket_index(BOUNDS, 1.0) == 0
    assert bucket_index(BOUNDS, 1.0001) == 1
    assert bucket_index(BOUNDS, 60_000) == len(BOUNDS) - 1
    assert bucket_index(BOUNDS, 60_001) == len(BOUNDS)


def test_empty_histogram_has_no_percentile():
    assert histogram_percentile(BOUNDS, [0] * (len(BOUNDS) + 1), 50) is None


def test_the_open_last_bucket_reports_the_last_bound():
    assert histogram_percentile(BOUNDS, histogram([1, 90_000, 90_000]), 95) == 60_000


def test_q_is_clamped_to_0_100():
    counts = histogram([10, 1_000])
    assert histogram_percentile(BOUNDS, counts, 150) == pytest.approx(1_000, rel=0.10)
    assert histogram_percentile(BOUNDS, counts, -5) == pytest.approx(10, rel=0.10)


def test_merge_counts_adds_bucket_by_bucket():
    assert merge_counts([[1, 2, 3], [4, 5, 6]]) == [5, 7, 9]
    assert merge_counts([]) == []


def test_rounding_keeps_the_worst_case_within_10_percent():
    from llmfallback.selectors import latency_round

    # Just above a bound the estimate is the bucket's centre, 9.55 % high: 1.1 would be 10 %.
    worst = histogram_percentile(BOUNDS, histogram([1.0001]), 50)
    assert latency_round(worst) == pytest.approx(1.0001, rel=0.10)
    assert latency_round(worst) != 1.1
    assert latency_round(216.694) == 216.7 and latency_round(None) is None
