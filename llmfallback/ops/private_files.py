"""Files that hold prompts or secrets, for their owner only: every file the service writes.

Escalation files and fallback_state.json carry agents' prompts, the SQLite database stores them
too, and the secret key signs sessions. Folders this module makes are 0700 and files 0600,
whatever the process's umask; LLM_DATA_DIR, the service's own folder, is tightened to 0700 even
when it already exists, so a file put there some other way is still out of others' reach.
tests/test_private_files.py fails on any module that writes a file without this one.
Plain Python: the settings import it.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path, *, tighten: bool = False) -> Path:
    """Make `path` and its missing parents 0700; `tighten`: also an existing `path` (ours)."""
    path = Path(path)
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:  # another process made it first: it made it 0700 too
            continue
        folder.chmod(DIR_MODE)  # the umask may have taken bits away, never added: exact now
    if tighten:
        info = path.stat()
        # Only a folder of our own: one another user lends us (a shared mount) stays as its owner
        # set it, and the system check (llmfallback.W004) says so if others can read it.
        if info.st_uid == os.getuid() and info.st_mode & 0o777 != DIR_MODE:
            path.chmod(DIR_MODE)
    return path


def private_write(path: Path, text: str, *, replace: bool = True) -> Path:
    """Write `text` to `path` as a new 0600 file, atomically: readers see the old or the new.

    `replace=False` never overwrites: when two processes race, the first file wins.
    """
    path = Path(path)
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        if replace:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
    finally:
        tmp.unlink(missing_ok=True)
    return path


def private_file(path: Path) -> Path:
    """Create `path` empty and 0600 if it is missing (a file another library then writes, such
    as the SQLite database, whose -wal and -shm files SQLite gives the same mode)."""
    path = Path(path)
    private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        pass
    return path


def shared_with_others(path: Path) -> bool:
    """Whether anyone but the owner may read or enter `path` (False if it does not exist)."""
    try:
        return bool(Path(path).stat().st_mode & 0o077)
    except FileNotFoundError:
        return False
