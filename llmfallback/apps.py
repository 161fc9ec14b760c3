from django.apps import AppConfig
from django.apps import apps as global_apps
from django.db.models.signals import post_migrate
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

        # The periodic tasks (pruning, probing keys taken out) after every migrate: `serve` runs
        # it, and so does every deployment by hand (README, "Production").
        post_migrate.connect(_schedules_ensure, sender=self)
        register_all()  # the Congress's remedies for the gateway
        listeners.on_decision(proposal_decided)  # approvals and rejections in the audit log
        _tracing_setup()


def _schedules_ensure(sender, using, apps=global_apps, **kwargs) -> None:
    """post_migrate: after migrate with the project's state then (`apps`), after flush without."""
    try:
        apps.get_model("django_q", "Schedule")
    except LookupError:  # django-q2 migrated back to zero: no table to write to
        return
    from . import services

    services.schedules_ensure(using=using)


def _tracing_setup() -> None:
    """Traces over OTLP when an endpoint is set; otherwise OpenTelemetry is never imported."""
    from django.conf import settings

    if settings.OTEL_EXPORTER_OTLP_ENDPOINT:
        from .ops import tracing

        tracing.setup(
            service_name=settings.OTEL_SERVICE_NAME,
            capture_content=settings.OTEL_CAPTURE_CONTENT,
        )
