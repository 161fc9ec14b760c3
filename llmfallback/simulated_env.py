"""How `manage.py serve` tells other commands which providers it is simulating.

serve points the providers at its simulator through environment variables it gives only to its
own children; `llm_health`, `agent_key` or `llm_state` run from another terminal would not see
them and call every provider "not configured". So serve also writes them, with its process id,
to a file in LLM_DATA_DIR, and the settings read it when no provider is configured otherwise
and that serve is still running. Plain Python: the settings import it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from llmfallback.ops.private_files import private_dir, private_write

FILE_NAME = "simulated_providers.json"


def simulated_env_write(folder: Path, env: dict[str, str], *, pid: int) -> Path:
    """Write `env` for process `pid` atomically (0600: it names the simulator's dummy keys)."""
    private_dir(folder, tighten=True)
    return private_write(folder / FILE_NAME, json.dumps({"pid": pid, "env": env}))


def simulated_env_read(folder: Path) -> dict[str, str]:
    """The environment a running serve simulates providers with; {} if none is running."""
    try:
        data = json.loads((folder / FILE_NAME).read_text())
        pid, env = int(data["pid"]), data["env"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    if not _alive(pid) or not isinstance(env, dict):
        return {}  # a serve that was killed before it could remove its file
    return {str(k): str(v) for k, v in env.items()}


def simulated_env_remove(folder: Path, *, pid: int) -> None:
    """Remove the file if process `pid` wrote it (a newer serve may have replaced it)."""
    path = folder / FILE_NAME
    try:
        if json.loads(path.read_text()).get("pid") == pid:
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # running, as another user
    return True
