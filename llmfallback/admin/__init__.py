"""The admin pages of llmfallback: providers, keys and health (providers.py), escalations
(escalation.py). Django's autodiscovery imports this package; importing both registers them."""

from llmfallback.admin import escalation, providers  # noqa: F401
