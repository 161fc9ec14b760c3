"""Files holding prompts or secrets are their owner's only: 0600 files in 0700 folders."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from llmfallback.checks import data_files_private
from llmfallback.escalation import report
from llmfallback.ops.private_files import private_dir, private_file, private_write

ROOT = Path(__file__).resolve().parents[1]


def mode(path) -> int:
    return Path(path).stat().st_mode & 0o777


@pytest.fixture(autouse=True)
def permissive_umask():
    """The usual 022: what made every file 0644 before."""
    saved = os.umask(0o022)
    yield
    os.umask(saved)


def test_an_escalation_file_and_the_state_export_are_0600_in_a_0700_folder(db, llm_data_dir):
    llm_data_dir.parent.chmod(0o755)
    path = report.json_write("congress_escalation_x.json", {"messages": ["a prompt"]})
    state = Path(report.state_export())
    assert (mode(path), mode(state), mode(llm_data_dir)) == (0o600, 0o600, 0o700)
    assert mode(llm_data_dir.parent) == 0o755  # a folder that was there already is not ours


def test_an_existing_data_folder_is_tightened_and_a_rewrite_is_0600(db, llm_data_dir):
    llm_data_dir.mkdir(mode=0o755)
    (llm_data_dir / "fallback_state.json").write_text("{}")  # an export from before the fix
    os.chmod(llm_data_dir / "fallback_state.json", 0o644)
    call_command("llm_state", "export")
    assert mode(llm_data_dir) == 0o700
    assert mode(llm_data_dir / "fallback_state.json") == 0o600


def test_a_folder_another_user_lends_is_left_as_its_owner_set_it(tmp_path, monkeypatch):
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o755)
    monkeypatch.setattr(os, "getuid", lambda: os.stat(folder).st_uid + 1)  # not ours
    private_dir(folder, tighten=True)  # chmod would fail there: not even tried
    assert mode(folder) == 0o755


def test_new_parent_folders_are_0700_too(tmp_path):
    private_write(tmp_path / "a" / "b" / "file", "x")
    assert [mode(tmp_path / "a"), mode(tmp_path / "a" / "b")] == [0o700, 0o700]


def test_replace_false_never_overwrites(tmp_path):
    private_write(tmp_path / "key", "first", replace=False)
    private_write(tmp_path / "key", "second", replace=False)
    assert (tmp_path / "key").read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["key"]  # no temporary file left behind


def test_private_file_keeps_what_is_there(tmp_path):
    (tmp_path / "db").write_text("data")
    private_file(tmp_path / "db")
    assert (tmp_path / "db").read_text() == "data"


SQLITE = (
    "import os; os.umask(0o022); import django; django.setup(); from django.db import connection; "
    "connection.cursor().execute('CREATE TABLE t (x text)')"
)


def test_the_sqlite_database_and_its_wal_files_are_0600_in_a_0700_folder(tmp_path):
    database = tmp_path / "new" / "db.sqlite3"
    env = os.environ | {"SQLITE_PATH": str(database), "DATABASE_URL": ""}
    code = SQLITE + "; print(os.listdir(os.path.dirname(connection.settings_dict['NAME'])))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "db.sqlite3-wal" in done.stdout  # seen while the connection was open
    assert mode(database) == 0o600 and mode(database.parent) == 0o700
    assert all(mode(p) == 0o600 for p in database.parent.iterdir())


def test_the_system_check_names_shared_files_with_the_fix(settings, llm_data_dir, tmp_path):
    private_dir(llm_data_dir)
    (llm_data_dir / "congress_escalation_old.json").write_text("{}")
    os.chmod(llm_data_dir / "congress_escalation_old.json", 0o644)
    assert [w.hint for w in data_files_private(None)] == [
        f"chmod 600 {llm_data_dir / 'congress_escalation_old.json'}"
    ]


# --- No file is written another way -------------------------------------------------------------

WRITERS = {"write_text", "write_bytes", "mkdir", "makedirs", "touch", "mkstemp", "mkdtemp"}
SOURCES = ("d8site", "llmfallback", "congress")
ALLOWED = {ROOT / "llmfallback" / "ops" / "private_files.py"}


def writes(tree: ast.AST) -> list[int]:
    """Lines that create a file or folder: the calls above, os.open, or open() in a write mode."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
        if name in WRITERS or (name == "open" and _os_open(node)):
            found.append(node.lineno)
        elif name in {"open", "fdopen"} and _write_mode(node):
            found.append(node.lineno)
    return found


def _os_open(node: ast.Call) -> bool:
    return isinstance(node.func, ast.Attribute) and getattr(node.func.value, "id", "") == "os"


def _write_mode(node: ast.Call) -> bool:
    modes = [a for a in node.args[1:2]] + [k.value for k in node.keywords if k.arg == "mode"]
    return any(isinstance(m, ast.Constant) and set(str(m.value)) & set("wax+") for m in modes)


def test_every_file_the_service_writes_goes_through_private_files():
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for folder in SOURCES
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path not in ALLOWED and "migrations" not in path.parts
        for line in writes(ast.parse(path.read_text()))
    ]
    assert offenders == [], "write these with llmfallback/ops/private_files.py"


def test_the_scan_sees_each_way_of_writing():
    code = "p.write_text('x'); open(p, 'w'); os.open(p, 1); p.mkdir(); open(p, mode='ab'); open(p)"
    assert writes(ast.parse(code)) == [1] * 5
