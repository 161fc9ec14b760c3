from django.contrib.auth import views as auth_views
from django.urls import path, re_path
from django.views.generic import RedirectView

from llmfallback.dashboard import views
from llmfallback.http import api_escalation, api_schema

from .ops.metrics import metrics_view
from .ops.tracing import server

urlpatterns = [
    # The views of api.py, as documented for the OpenAPI schema by api_schema.py.
    path("api/llm/chat", server(api_schema.ChatApi.as_view(), "/api/llm/chat"), name="llm-chat"),
    path("api/llm/health", api_schema.HealthApi.as_view(), name="llm-health"),
    path(
        "api/llm/providers/<str:name>/reset",
        api_schema.ProviderResetApi.as_view(),
        name="llm-provider-reset",
    ),
    re_path(
        r"^api/llm/providers/(?P<name>[^/]+)/(?P<action>enable|disable|up|down)$",
        api_schema.ProviderActionApi.as_view(),
        name="llm-provider-action",
    ),
    path("api/llm/escalations", api_escalation.EscalationListApi.as_view(), name="llm-escalations"),
    path(
        "api/llm/escalations/<int:pk>",
        api_escalation.EscalationDetailApi.as_view(),
        name="llm-escalation",
    ),
    path(
        "api/llm/escalations/<int:pk>/document",
        api_escalation.EscalationDocumentApi.as_view(),
        name="llm-escalation-document",
    ),
    # The operator's pages (issue 4).
    path("", RedirectView.as_view(pattern_name="llm-dashboard"), name="home"),
    path("dashboard/llm", views.dashboard, name="llm-dashboard"),
    path("dashboard/llm/data.json", views.dashboard_data, name="llm-dashboard-data"),
    path("dashboard/llm/reset-all", views.reset_all, name="llm-dashboard-reset-all"),
    path(
        "dashboard/llm/providers/<str:name>/<str:action>",
        views.provider_action,
        name="llm-dashboard-action",
    ),
    path("docs/api", views.api_docs, name="api-docs"),
    # Prometheus' scrape endpoint (issue 11): a 404 until LLM_METRICS_TOKEN or _ALLOW is set.
    path("metrics", metrics_view, name="metrics"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", views.LogoutPage.as_view(), name="logout"),
]
