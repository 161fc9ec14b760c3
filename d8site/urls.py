import re

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.renderers import (
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
)
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from d8site.api.errors import unknown_api_url

# JSON unless the caller asks for YAML (?format=yaml or Accept: application/yaml).
SCHEMA_RENDERERS = [
    OpenApiJsonRenderer2,
    OpenApiJsonRenderer,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
]

urlpatterns = [
    # First: the OpenAI-compatible /v1 is the hot path, and Django tries the patterns in order
    # (resolving through the admin's and the dashboard's first was ~5 % of a /v1 call's CPU).
    # Nothing else lives under /v1/. Then /api/llm/chat and the gateway's other pages.
    path("", include("llmfallback.http.urls")),
    path("", include("llmfallback.urls")),
    path("admin/", admin.site.urls),
    # The OpenAPI schema of every endpoint, and Swagger UI served from our own static files
    # (drf-spectacular-sidecar). No Redoc: its page loads its fonts from Google.
    path(
        "api/schema",
        SpectacularAPIView.as_view(renderer_classes=SCHEMA_RENDERERS),
        name="api-schema",
    ),
    path(
        "docs/api/swagger",
        SpectacularSwaggerView.as_view(url_name="api-schema"),
        name="api-swagger",
    ),
    path("", include("congress.urls")),
    # Last: any other URL under an API prefix is a JSON 404, with DJANGO_DEBUG on too (Django's
    # debug 404 page would otherwise answer it) and without an APPEND_SLASH redirect.
    *(
        re_path(rf"^{re.escape(prefix.lstrip('/'))}", unknown_api_url)
        for prefix in settings.API_PATH_PREFIXES
    ),
]

# Under the API prefixes these answer JSON; elsewhere they hand over to Django's HTML pages.
handler400 = "d8site.api.errors.bad_request"
handler403 = "d8site.api.errors.permission_denied"
handler404 = "d8site.api.errors.page_not_found"
handler500 = "d8site.api.errors.server_error"
