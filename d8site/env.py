"""Reading the environment for settings.py: typed variables, and the secret key (from
DJANGO_SECRET_KEY, else the file `manage.py serve` keeps, else the refused development key)."""

import os
import secrets
import sys
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

from llmfallback.ops.private_files import private_write

DEV_SECRET_KEY = "dev-only-insecure-key-set-DJANGO_SECRET_KEY-in-production"


def env_file_load(base_dir: Path) -> Path:
    """Read D8_ENV_FILE (default: .env beside manage.py) into os.environ; what the process's own
    environment already says wins. Every entry point calls it before reading a setting:
    settings.py for Django's processes, and d8site/gunicorn.conf.py, whose server settings
    (PORT, WEB_THREADS, ...) gunicorn reads before any Django code runs."""
    path = base_dir / (os.environ.get("D8_ENV_FILE", "").strip() or ".env")
    load_dotenv(path)
    return path


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    return flag(env_str(name), default)


def flag(value: str, default: bool) -> bool:
    """A yes/no setting's text: `1`, `true`, `yes` or `on` is yes, any other word no, and
    nothing at all the default."""
    value = value.strip().lower()
    return default if not value else value in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    return int(env_str(name) or default)


def env_float(name: str, default: float) -> float:
    return float(env_str(name) or default)


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def serve_is_starting() -> bool:
    """`manage.py serve`, the embedded set-up, which keeps a key of its own (see secret_key)."""
    return Path(sys.argv[0]).name in {"manage.py", "django-admin"} and sys.argv[1:2] == ["serve"]


# What an operator runs by hand in another terminal beside `manage.py serve` to look at it.
SERVE_COMPANION_COMMANDS = {"llm_health", "agent_key", "llm_state"}


def simulator_from_serve(chosen: str) -> bool:
    """Whether this process may take its providers from the simulator a running `serve` wrote
    down (llmfallback/simulated_env.py). LLM_SIMULATOR_FROM_SERVE: `true` any process, `false`
    none; unset, only the commands an operator runs beside serve. Never, by default, a gunicorn
    or a qcluster: a production one started in the same checkout must not route agents' prompts
    to the development simulator. (serve's own children get its providers in their environment.)
    """
    if chosen:
        return flag(chosen, False)
    command = sys.argv[1:2]
    return Path(sys.argv[0]).name in {"manage.py", "django-admin"} and bool(
        command and command[0] in SERVE_COMPANION_COMMANDS
    )


def secret_key_file(path: Path, *, create: bool) -> str:
    """The key kept in `path` ("" if none); made at random, mode 0600, when `create` says so."""
    if create and not path.exists():
        # Never replaces: when two serves start at once, the first key wins.
        private_write(path, secrets.token_urlsafe(50), replace=False)
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        return ""
    if not key:
        raise ImproperlyConfigured(f"The secret key file {path} is empty: delete it or fill it.")
    return key


def secret_key(*, debug: bool, key_file: Path) -> str:
    """DJANGO_SECRET_KEY, else the key file `manage.py serve` made, else the development key.

    The key signs sessions, CSRF tokens, password-reset links and django-q2's task packages:
    whoever knows it can forge them, and the development key is in the source. So with DEBUG off
    the service refuses to start on it, web workers and task cluster alike, unless
    DJANGO_ALLOW_DEV_SECRET_KEY says so (the test suite sets it in pyproject.toml, on purpose).
    """
    key = env_str("DJANGO_SECRET_KEY") or secret_key_file(key_file, create=serve_is_starting())
    if key and key != DEV_SECRET_KEY:
        return key
    if debug or env_bool("DJANGO_ALLOW_DEV_SECRET_KEY", False):
        return DEV_SECRET_KEY
    raise ImproperlyConfigured(
        "Refusing to start with DJANGO_DEBUG off on the built-in development SECRET_KEY, which "
        "anyone can read in the source and use to forge sessions and task packages. Set "
        "DJANGO_SECRET_KEY to a long random value (python3 -c 'import secrets; "
        "print(secrets.token_urlsafe(50))'), or run `manage.py serve`, which makes one in "
        f"{key_file} on its first run."
    )


def data_paths_guard(live: Path, paths: list[Path]) -> None:
    """Under the test suite (D8_TEST_SUITE, set by tests/isolation.py and inherited by every
    process a test starts), refuse to run on a data path inside the developer's own data/."""
    if not env_bool("D8_TEST_SUITE", False):
        return
    for path in paths:
        if Path(path).resolve().is_relative_to(live.resolve()):
            raise ImproperlyConfigured(
                f"The test suite must not use {path}, inside the developer's own {live}: give "
                "the process it starts LLM_DATA_DIR, SQLITE_PATH and DJANGO_SECRET_KEY_FILE in a "
                "temporary folder (tests/isolation.py sets them for the whole run)."
            )
