"""Start-up warnings: providers that are listed but miss what they need, files others can read."""

from pathlib import Path

from django.conf import settings
from django.core import checks

from llmfallback.ops.private_files import shared_with_others


@checks.register()
def providers_configured(app_configs, **kwargs):
    warnings = [
        checks.Warning(
            f"LLM provider '{c.name}' is not configured (missing {c.missing}); it will be skipped.",
            hint="Set the missing environment variables or remove it from LLM_PROVIDER_PRIORITY.",
            id="llmfallback.W001",
        )
        for c in settings.LLM_PROVIDERS
        if c.missing
    ]
    if all(c.missing for c in settings.LLM_PROVIDERS):
        warnings.append(
            checks.Warning(
                "No LLM provider is configured: every chat request will fail.",
                hint="Run `python manage.py serve`, which starts the provider simulator, or set API keys.",
                id="llmfallback.W002",
            )
        )
    return warnings


@checks.register(checks.Tags.security)
def secret_key_file_private(app_configs, **kwargs):
    """The key `manage.py serve` keeps signs sessions and task packages: for its owner only."""
    path = Path(settings.SECRET_KEY_FILE)
    try:
        shared = path.stat().st_mode & 0o077
    except FileNotFoundError:
        return []
    if not shared:
        return []
    return [
        checks.Warning(
            f"The secret key file {path} can be read by other users.",
            hint=f"chmod 600 {path}",
            id="llmfallback.W003",
        )
    ]


@checks.register(checks.Tags.security)
def data_files_private(app_configs, **kwargs):
    """Escalation files, fallback_state.json and the SQLite database hold agents' prompts.

    The service makes them 0600 in a 0700 folder (private_files.py); files made before it did,
    or by hand, keep their mode until the operator changes it: said here, with the fix.
    """
    folder = Path(settings.LLM_DATA_DIR)
    found = [folder] if shared_with_others(folder) else []
    if folder.is_dir():
        found += sorted(p for p in folder.iterdir() if shared_with_others(p))
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3") and shared_with_others(database["NAME"]):
        found.append(Path(database["NAME"]))
    return [
        checks.Warning(
            f"{path} holds agents' prompts and can be read by other users.",
            hint=f"chmod {'700' if path.is_dir() else '600'} {path}",
            id="llmfallback.W004",
        )
        for path in found
    ]
