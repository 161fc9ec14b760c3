from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """The operators' dashboard: its views, selectors and charts, and, as an app of its own,
    its template tags and static files found where Django looks for an app's."""

    name = "llmfallback.dashboard"
    label = "llm_dashboard"
    verbose_name = "LLM dashboard"
