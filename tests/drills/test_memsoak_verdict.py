"""bench/memsoak's judgement, on hand-made samples: a thread pool still growing is warm-up, memory
that keeps growing once the pool has stopped is not."""

from bench.memsoak import Sample, verdict


def samples(rss: list[float], threads: list[int]) -> list[Sample]:
    """One worker sampled every 10 s for as long as the lists."""
    pairs = enumerate(zip(rss, threads, strict=True))
    return [Sample(i * 10.0, [m], 1.0, [t]) for i, (m, t) in pairs]


def worker_line(lines: list[str]) -> str:
    [line] = [line for line in lines if "worker 1:" in line]
    return line


def test_growth_while_the_pool_grows_is_warm_up_and_flat_after_it_is_met():
    rss = [90, 100, 110, 120, 125, 130, 132, 138, 142, 146, 148, 148] + [149] * 18
    threads = [100, 150, 200, 250, 300, 320, 330, 400, 450, 500, 520, 520] + [520] * 18
    line = worker_line(verdict(samples(rss, threads)))
    assert "met" in line and "missed" not in line
    assert "148 MB at 100 s (520 threads)" in line


def test_growth_with_the_pool_at_its_size_is_missed():
    rss = [90, 100, 110, 120, 130, 135] + [135 + 2 * i for i in range(24)]  # 2 MB / 10 s, forever
    threads = [300, 400, 520, 520, 520, 520] + [520] * 24
    line = worker_line(verdict(samples(rss, threads)))
    assert "missed" in line


def test_a_pool_still_growing_in_the_last_third_gets_no_allowance():
    rss = [100 + 2 * i for i in range(30)]
    threads = [100 + 10 * i for i in range(30)]
    line = worker_line(verdict(samples(rss, threads)))
    assert "missed" in line
    assert "at 60 s" in line  # judged from the first minute on
