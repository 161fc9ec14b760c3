from django.urls import path

from . import api

urlpatterns = [
    path("api/llm/chat", api.ChatApi.as_view(), name="llm-chat"),
    path("api/llm/health", api.HealthApi.as_view(), name="llm-health"),
    path("api/llm/providers/<str:name>/reset", api.ProviderResetApi.as_view(), name="llm-provider-reset"),
]
