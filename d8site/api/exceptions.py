"""The API's own error classes (DRF has none for 413)."""

from __future__ import annotations

from django.conf import settings
from rest_framework import exceptions, status


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"

    def __init__(self, limit: int | None = None):
        limit = settings.LLM_MAX_BODY_BYTES if limit is None else limit
        super().__init__(
            f"Request body too large; the limit is {limit} bytes (LLM_MAX_BODY_BYTES)."
        )
