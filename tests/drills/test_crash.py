"""The crash drill, scaled down: SIGKILL one of two gunicorn workers mid-load, on each database."""

import pytest

from bench import crash
from tests.conftest import database_params

pytestmark = pytest.mark.multiprocess


@pytest.mark.parametrize("db", database_params())
def test_a_killed_worker_is_replaced_nothing_is_corrupted_and_counts_stay_in_bounds(db, tmp_path):
    args = crash.parser().parse_args(["--requests", "400", "--clients", "16", "--workers", "2"])
    targets, figures = crash.crash(db, args, tmp_path)
    text = crash.report(db, args, targets, figures)
    print(text)
    assert figures["kill"]["killed_at"] < figures["load"].ended_at, "the kill came too late"
    assert not targets.missed, text
