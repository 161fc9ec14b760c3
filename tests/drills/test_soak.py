"""The soak drill, scaled down: chaos on every provider but one, 2 workers on PostgreSQL.

The full drill is `bench/soak` (5,000 requests, 64 clients); this one keeps its targets and
paces 400 requests over ~16 s so they meet a dozen fault bursts of every class.
"""

import pytest

from bench import soak

# bench.soak sets up its own PostgreSQL database and Redis: CI runs it in the PostgreSQL pass.
pytestmark = [pytest.mark.multiprocess, pytest.mark.database("postgresql")]

ARGS = ["--requests", "400", "--clients", "16", "--workers", "2", "--db", "postgresql"]


def test_under_chaos_every_answer_is_documented_counted_and_no_cooldown_is_broken(tmp_path):
    args = soak.parser().parse_args(ARGS + ["--rate", "25", "--seed", "8"])
    targets, figures = soak.soak(args, tmp_path)
    text = soak.report(args, targets, figures)
    print(text)
    assert sum(1 for c in figures["calls"] if c["served"] != "ok") > 0, "no fault was met"
    assert not targets.missed, text
