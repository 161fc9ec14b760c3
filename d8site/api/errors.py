"""Every error under the API prefixes is JSON: {"detail": "...", plus field errors if any}.

Two layers, because DRF only sees what reaches one of its views:
- `exception_handler` (DRF's EXCEPTION_HANDLER) shapes errors raised inside API views, and turns
  an unexpected exception into a JSON 500 with no trace (the trace goes to the log);
- the Django error views (`handler400/403/404/500` in d8site/urls.py, CSRF_FAILURE_VIEW) cover the
  rest: unknown URLs, errors raised in middleware, a body too large for Django's own limit.
  Outside the API prefixes they hand over to Django's HTML pages.

Both answer 503 with Retry-After, not 500, when the database gave no connection (`unreachable`).
"""

from __future__ import annotations

import logging
import re
import sys

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from django.views import csrf, defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from d8site.serving import RETRY_AFTER_S

from . import is_api_path
from .exceptions import RequestTooLarge

logger = logging.getLogger("d8site.api")

SERVER_ERROR = "Internal server error; it has been logged."
UNKNOWN_URL = "No API endpoint at this URL; the endpoints are listed at /docs/api."


def exception_handler(exc, context):
    """DRF's handler, with one body shape and a JSON 500 for whatever it does not know."""
    if isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge()
    elif isinstance(exc, SuspiciousOperation):
        exc = exceptions.ParseError("Bad request.")
    response = drf_exception_handler(exc, context)
    if response is not None:
        response.data = error_body(response.data)
        return response
    request = context["request"]._request
    if unreachable(exc):
        set_rollback()
        return _unavailable(request, exc, Response({"detail": store_unavailable_detail()}, 503))
    logger.error("Unhandled error on %s %s", request.method, request.path, exc_info=exc)
    # Error reporters (and Django's test client) listen for this signal; the caller sees no trace.
    got_request_exception.send(sender=None, request=request)
    set_rollback()
    return Response({"detail": SERVER_ERROR}, status=status.HTTP_500_INTERNAL_SERVER_ERROR)


def error_body(data) -> dict:
    """{"detail": ...} as DRF gives it; field errors keep their keys and get a summary beside them."""
    if isinstance(data, dict) and "detail" in data:
        return data
    if isinstance(data, dict):
        return {"detail": "; ".join(_messages(data)), **data}
    return {"detail": " ".join(str(m) for m in data)}


def _messages(errors, path: str = "") -> list[str]:
    """The first message of each field, named by its path (messages[0].role), from DRF's nesting."""
    if isinstance(errors, dict):
        found = []
        for key, value in errors.items():
            found += _messages(value, _join(path, key))
        return found
    if isinstance(errors, list) and errors and all(isinstance(e, str) for e in errors):
        return [f"{path}: {errors[0]}" if path else str(errors[0])]
    if isinstance(errors, list):  # older DRF: one dict per item of a list, {} when valid
        return [m for i, item in enumerate(errors) for m in _messages(item, f"{path}[{i}]")]
    return [f"{path}: {errors}" if path else str(errors)]


def _join(path: str, key) -> str:
    if key == api_settings.NON_FIELD_ERRORS_KEY:
        return path
    if isinstance(key, int) or str(key).isdigit():
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def json_error(status_code: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status_code)


# --- Django's error views (handler400/403/404/500, CSRF_FAILURE_VIEW) ----------------------


def bad_request(request, exception):
    if not is_api_path(request.path):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        return json_error(413, str(RequestTooLarge().detail))
    return json_error(400, "Bad request.")


def permission_denied(request, exception):
    if not is_api_path(request.path):
        return defaults.permission_denied(request, exception)
    return json_error(403, "You do not have permission to perform this action.")


def page_not_found(request, exception):
    if not is_api_path(request.path):
        return defaults.page_not_found(request, exception)
    return json_error(404, UNKNOWN_URL)


@csrf_exempt  # a POST to a wrong URL is a 404, not a CSRF failure
def unknown_api_url(request):
    """The URL pattern that ends the list: nothing else under an API prefix matched."""
    return json_error(404, UNKNOWN_URL)


def server_error(request):
    exc = sys.exc_info()[1]  # Django calls this view while it handles the exception
    if unreachable(exc):
        return _unavailable(request, exc, _store_unavailable_page(request))
    if not is_api_path(request.path):
        return defaults.server_error(request)
    if request.path.startswith("/v1/"):  # OpenAI's envelope: its SDKs raise InternalServerError
        error = {"message": SERVER_ERROR, "type": "server_error", "param": None, "code": None}
        return JsonResponse({"error": error}, status=500)
    return json_error(500, SERVER_ERROR)


# --- 503: the database gave no connection --------------------------------------------------


def unreachable(exc) -> bool:
    """Whether `exc` says the database gave no connection: its pool stayed empty for its
    timeout under load (psycopg_pool.PoolTimeout), it is down or restarting, SQLite is locked.
    The same call may succeed seconds later, so it is a 503 with Retry-After, which agents' SDKs
    retry; a 500 says the gateway is broken and is not retried."""
    return isinstance(exc, (OperationalError, InterfaceError))


def store_unavailable_detail() -> str:
    return (
        "The gateway's database gave no connection in time (down, or at capacity); "
        f"retry after {RETRY_AFTER_S} s."
    )


def _store_unavailable_page(request):
    path, detail = request.path, store_unavailable_detail()
    if path == "/v1/messages" or path.startswith("/v1/messages/"):  # Anthropic's envelope
        error = {"type": "overloaded_error", "message": detail}
        return JsonResponse({"type": "error", "error": error}, status=503)
    if path.startswith("/v1/"):  # OpenAI's
        error = {
            "message": detail,
            "type": "server_error",
            "param": None,
            "code": "store_unavailable",
        }
        return JsonResponse({"error": error}, status=503)
    if is_api_path(path):
        return json_error(503, detail)
    page = defaults.server_error(request)
    page.status_code = 503
    return page


_URL_PASSWORD = re.compile(r"(//[^/\s:@]*:)[^@\s/]+@")  # a DSN's password, were a driver to echo it


def _unavailable(request, exc, response):
    """`response` with Retry-After, and one warning line for it. A pool that stays empty fails
    every request at once: a trace for each (Django's own error log) would bury the cause."""
    response["Retry-After"] = str(RETRY_AFTER_S)
    logger.warning(
        "Database unavailable on %s %s: %s: %s",
        request.method,
        request.path,
        type(exc).__name__,
        _URL_PASSWORD.sub(r"\1***@", str(exc).strip())[:200],
    )
    response._has_been_logged = True  # django.utils.log.log_response: logged above, once
    return response


def csrf_failure(request, reason=""):
    if not is_api_path(request.path):
        return csrf.csrf_failure(request, reason)
    return json_error(403, f"CSRF failed: {reason}")
