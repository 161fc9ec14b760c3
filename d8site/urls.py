from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    # The OpenAPI schema of every endpoint (JSON by default, ?format=yaml), and its pages.
    path("api/schema", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "docs/api/swagger",
        SpectacularSwaggerView.as_view(url_name="api-schema"),
        name="api-swagger",
    ),
    path("docs/api/redoc", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("", include("llmfallback.urls")),
    path("", include("congress.urls")),
]

# Under the API prefixes these answer JSON; elsewhere they hand over to Django's HTML pages.
handler400 = "d8site.api.errors.bad_request"
handler403 = "d8site.api.errors.permission_denied"
handler404 = "d8site.api.errors.page_not_found"
handler500 = "d8site.api.errors.server_error"
