"""A start-up warning for providers that are listed but miss what they need."""

from django.conf import settings
from django.core import checks


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
