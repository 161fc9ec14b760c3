"""The test run never touches the developer's data/ (loaded by pyproject's `-p tests.isolation`).

A plugin, not a conftest: pytest-django loads the settings before any conftest is read, and
every process a test starts (gunicorn, manage.py, the drills) inherits this process's
environment. So at import, before the settings load, the data paths point into a folder of this
run's own, and D8_TEST_SUITE tells the settings to refuse any data path inside the repository's
data/ (d8site/env.py): a test that hands a child an environment without them fails loudly
instead of writing escalation files, a database or a key next to the developer's own.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

RUN_DIR = Path(tempfile.mkdtemp(prefix="d8-tests-"))

os.environ["D8_TEST_SUITE"] = "true"
os.environ["LLM_DATA_DIR"] = str(RUN_DIR / "llm_fallback")
os.environ["SQLITE_PATH"] = str(RUN_DIR / "db.sqlite3")
os.environ["DJANGO_SECRET_KEY_FILE"] = str(RUN_DIR / "secret_key")


def pytest_unconfigure(config) -> None:
    shutil.rmtree(RUN_DIR, ignore_errors=True)
