"""The JSON API's settings for settings.py: Django REST framework, the URL prefixes that answer
JSON only, and the OpenAPI schema. They read no environment variable."""

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "llmfallback.access.agent_keys.AgentKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "UNAUTHENTICATED_USER": None,
    # The API speaks JSON only, errors included (d8site/api/): no browsable HTML pages, and a
    # body in any other format is a 415.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["d8site.api.parsers.BoundedJSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "d8site.api.negotiation.FormatLenientNegotiation",
    "EXCEPTION_HANDLER": "d8site.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# URL prefixes whose every answer, errors included, is JSON (the HTML pages keep HTML errors).
API_PATH_PREFIXES = ("/api/", "/v1/")
CSRF_FAILURE_VIEW = "d8site.api.errors.csrf_failure"

# The OpenAPI schema at /api/schema and its Swagger UI at /docs/api/swagger. Public, like /docs/api: it
# describes the code, holds no setting or secret, and every endpoint still needs a key.
SPECTACULAR_SETTINGS = {
    "TITLE": "d8 LLM Fallback API",
    "DESCRIPTION": "One LLM endpoint for AI agents that falls back across providers. "
    "Authenticate with `Authorization: Bearer <agent key>`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/",  # operations grouped by what follows it: llm, congress
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ProposalCategory": "congress.models.Category",
        "ProposalStatus": "congress.api.STATUS_CHOICES",
        # The model's and the API's choices carry translated labels: one name for both.
        "VotingRule": "congress.voting.Rule",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "d8site.api.schema.add_error_responses",
    ],
}
