"""The files a gunicorn service writes land in the test's own folder, for their owner only."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.multiprocess

BODY = {"messages": [{"role": "user", "content": "a prompt"}]}
DOWN = [{"behavior": "unavailable", "times": -1}]


def test_an_escalation_file_lands_in_the_tests_own_folder(service, sim):
    for name in ("groq", "gemini", "deepseek"):
        sim.script(name, DOWN)
    with service.client() as client:
        answer = client.post("/api/llm/chat", json=BODY)
    assert answer.status_code == 503 and answer.json()["escalated_to_congress"]
    files = list(service.data_dir.glob("congress_escalation_*.json"))
    assert len(files) == 1
    assert "a prompt" in files[0].read_text()
    # Written by a gunicorn worker under the usual umask (022): still its owner's only.
    assert mode(files[0]) == 0o600 and mode(service.data_dir) == 0o700
    database = service.database_path
    if database is not None:
        assert [mode(p) for p in sorted(database.parent.glob(database.name + "*"))] == [0o600] * 3


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777
