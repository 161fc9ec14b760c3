"""The test suite never writes into the developer's own data/ (tests/isolation.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[1]
LIVE = ROOT / "data"
PATHS = ("LLM_DATA_DIR", "SQLITE_PATH", "DJANGO_SECRET_KEY_FILE")
SETUP = (
    "import django; django.setup(); from django.conf import settings; print(settings.LLM_DATA_DIR)"
)


def outside_live(path) -> bool:
    return not Path(path).resolve().is_relative_to(LIVE.resolve())


def test_this_process_and_its_children_get_paths_outside_the_developers_data():
    assert all(outside_live(os.environ[name]) for name in PATHS)
    assert outside_live(settings.LLM_DATA_DIR)
    assert outside_live(settings.SECRET_KEY_FILE)
    assert outside_live(settings.DATABASES["default"].get("NAME") or "/")


def test_each_test_hands_its_children_a_data_dir_of_its_own(tmp_path):
    assert Path(os.environ["LLM_DATA_DIR"]) == settings.LLM_DATA_DIR
    assert settings.LLM_DATA_DIR.is_relative_to(tmp_path)


@pytest.mark.parametrize(
    "change",
    [
        {"LLM_DATA_DIR": ""},  # a careless child environment: the default is the live folder
        {"SQLITE_PATH": str(LIVE / "db.sqlite3")},
        {"DJANGO_SECRET_KEY_FILE": "data/secret_key"},
    ],
)
def test_a_child_pointed_at_the_developers_data_refuses_to_start(change):
    env = os.environ | {"DJANGO_SETTINGS_MODULE": "d8site.settings"} | change
    done = subprocess.run(
        [sys.executable, "-c", SETUP], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode != 0
    assert "The test suite must not use" in done.stderr


def test_a_child_given_the_runs_paths_starts():
    env = os.environ | {"DJANGO_SETTINGS_MODULE": "d8site.settings"}
    done = subprocess.run(
        [sys.executable, "-c", SETUP], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == os.environ["LLM_DATA_DIR"]
