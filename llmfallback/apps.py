from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LlmFallbackConfig(AppConfig):
    name = "llmfallback"
    verbose_name = _("LLM fallback")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from congress import listeners
        from llmfallback.escalation.remedies import register_all

        from . import checks  # noqa: F401  (registers the system checks)
        from .audit import proposal_decided

        register_all()  # the Congress's remedies for the gateway
        listeners.on_decision(proposal_decided)  # approvals and rejections in the audit log
        _tracing_setup()


def _tracing_setup() -> None:
    """Traces over OTLP when an endpoint is set; otherwise OpenTelemetry is never imported."""
    from django.conf import settings

    if settings.OTEL_EXPORTER_OTLP_ENDPOINT:
        from .ops import tracing

        tracing.setup(
            service_name=settings.OTEL_SERVICE_NAME,
            capture_content=settings.OTEL_CAPTURE_CONTENT,
        )
