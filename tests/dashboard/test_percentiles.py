import pytest

from llmfallback.core.percentiles import histogram_percentile, merge_counts

BOUNDS = (100, 250, 500, 1000)


def test_it_returns_none_for_an_empty_histogram():
    assert histogram_percentile(BOUNDS, [0, 0, 0, 0, 0], 50) is None


def test_it_interpolates_inside_the_bucket_holding_the_rank():
    # 10 samples, all in (100, 250]: the median sits halfway through that bucket.
    assert histogram_percentile(BOUNDS, [0, 10, 0, 0, 0], 50) == pytest.approx(175)


def test_it_walks_past_lower_buckets():
    # 50 fast, 50 in (250, 500]: p95 is 90% of the way into the second populated bucket.
    assert histogram_percentile(BOUNDS, [50, 0, 50, 0, 0], 95) == pytest.approx(250 + 250 * 0.9)
    assert histogram_percentile(BOUNDS, [50, 0, 50, 0, 0], 50) == pytest.approx(100)


def test_the_first_bucket_starts_at_zero():
    assert histogram_percentile(BOUNDS, [4, 0, 0, 0, 0], 50) == pytest.approx(50)


def test_a_rank_in_the_open_bucket_reports_the_last_bound():
    assert histogram_percentile(BOUNDS, [1, 0, 0, 0, 99], 95) == 1000


def test_out_of_range_percentiles_are_clamped():
    assert histogram_percentile(BOUNDS, [0, 0, 2, 0, 0], 150) == pytest.approx(500)
    assert histogram_percentile(BOUNDS, [0, 0, 2, 0, 0], -5) == pytest.approx(250)


def test_merge_counts_adds_bucket_by_bucket():
    assert merge_counts([[1, 2, 3], [4, 5, 6]]) == [5, 7, 9]
    assert merge_counts([]) == []
