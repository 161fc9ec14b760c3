"""POST /v1/chat/completions and GET /v1/models: the gateway as a drop-in OpenAI endpoint.

Thin views: http/services.py does the work; every answer, errors included, is in OpenAI's
shapes (openai_out) so the openai SDK raises the exception class it maps to each status.
"""

from __future__ import annotations

from django.http import StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework.response import Response
from rest_framework.views import APIView

from llmfallback.agent_keys import AgentKeyAuthentication
from llmfallback.core.errors import AllProvidersFailed, CallerError
from llmfallback.core.routing import UnknownModel
from llmfallback.http import services
from llmfallback.limits import LimitExceeded, ProviderNotAllowed
from llmfallback.ops import cache
from llmfallback.providers.openai_input import InvalidRequest

from . import openai_out, sse

# DRF's own failures (auth, parsing, size, method) by status, as OpenAI's codes.
_CODES = {
    401: "invalid_api_key",
    403: "permission_denied",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "request_too_large",
    415: "unsupported_media_type",
}


class OpenAIView(APIView):
    """An APIView whose framework errors (401, 413, 415...) use OpenAI's envelope too.

    Agent keys only, as OpenAI's own API: /v1 goes around the session middleware
    (d8site/middleware.py), so a signed-in browser is not a caller here."""

    authentication_classes = [AgentKeyAuthentication]

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        detail = response.data.get("detail") if isinstance(response.data, dict) else None
        response.data = openai_out.error_body(
            response.status_code,
            str(detail or "Request failed."),
            code=_CODES.get(response.status_code),
        )
        return response


# What a chat call can be refused with before any answer, streamed or not.
REFUSALS = (
    LimitExceeded,
    ProviderNotAllowed,
    InvalidRequest,
    UnknownModel,
    CallerError,
    AllProvidersFailed,
)


def _refused(e: Exception) -> Response:
    """The OpenAI error answer for one of REFUSALS."""
    if isinstance(e, LimitExceeded):
        return _over_limit(e)
    if isinstance(e, ProviderNotAllowed):
        return _error(403, str(e), param="model", code="provider_not_allowed")
    if isinstance(e, InvalidRequest):
        return _error(400, e.message, param=e.param, code=e.code)
    if isinstance(e, UnknownModel):
        return _error(404, str(e), param="model", code="model_not_found")
    if isinstance(e, CallerError):
        return _caller_error(e)
    return _all_failed(e)


class ChatCompletionsApi(OpenAIView):
    def post(self, request):
        if not isinstance(request.data, dict):
            return _error(400, "The body must be a JSON object.")
        if request.data.get("stream") is True:
            return self._stream(request, dict(request.data))
        try:
            result = services.agent_chat(
                agent=request.user, body=dict(request.data), cache=cache.wanted(request.headers)
            )
        except REFUSALS as e:
            return _refused(e)
        headers = {"x-d8-provider": result.provider}
        if verdict := cache.status(result):  # only when the request went through the cache
            headers["x-d8-cache"] = verdict
        return Response(openai_out.completion_body(result), headers=headers)

    def _stream(self, request, body: dict):
        """Headers go out with the first token, so they can name the provider that streams it;
        until then every failure is still an ordinary JSON error (a 503 with Retry-After...)."""
        try:
            include_usage, events = services.agent_chat_stream(agent=request.user, body=body)
            start = next(events)  # raises here, before any byte is sent
        except REFUSALS as e:
            return _refused(e)
        return StreamingHttpResponse(
            sse.chunks(start, events, include_usage=include_usage),
            content_type="text/event-stream",
            headers=sse.HEADERS | {"x-d8-provider": start.provider},
        )


class ModelsApi(OpenAIView):
    def get(self, request):
        return Response(openai_out.models_body(services.openai_models()))


class ModelApi(OpenAIView):
    def get(self, request, model: str):
        found = [m for m in services.openai_models() if m["id"] == model]
        if not found:
            return _error(
                404,
                f"The model `{model[:200]}` does not exist.",
                param="model",
                code="model_not_found",
            )
        return Response(openai_out.model_out(found[0]))


@csrf_exempt
def unknown_url(request):
    """Anything else under /v1/: a 404 in OpenAI's envelope."""
    from django.http import JsonResponse

    message = f"Unknown request URL: {request.method} {request.path[:200]}."
    return JsonResponse(openai_out.error_body(404, message, code="unknown_url"), status=404)


def _error(status: int, message: str, *, headers=None, **fields) -> Response:
    return Response(
        openai_out.error_body(status, message, **fields), status=status, headers=headers
    )


def _caller_error(e: CallerError) -> Response:
    """Refused for the request's own sake: 413 when too large for every provider, else 4xx."""
    status = e.http_status
    if e.refusals:
        reasons = "; ".join(f"{name}: {err.message}" for name, err in e.refusals)
        message = f"Every provider refused this request ({reasons})"
    else:
        message = e.error.message
    body = openai_out.error_body(status, message, code=e.error.kind.value)
    body["x_d8"] = {"attempts": openai_out.attempts_out(e.attempts)}
    return Response(body, status=status)


def _all_failed(e: AllProvidersFailed) -> Response:
    """503 with Retry-After when some provider says when it will be back."""
    message = f"No provider could answer: {e.reason}."
    body = openai_out.error_body(503, message, code="providers_unavailable")
    body["x_d8"] = {"attempts": openai_out.attempts_out(e.attempts)}
    if getattr(e, "escalation", None):  # set by services.llm_chat when the Congress took it
        body["x_d8"] |= e.escalation.as_dict()
    return Response(body, status=503, headers=openai_out.retry_headers(e.retry_after))


def _over_limit(e: LimitExceeded) -> Response:
    """429 as OpenAI sends its own rate limits: the SDK raises RateLimitError and, when it
    retries, waits the retry-after-ms / Retry-After given here."""
    body = openai_out.error_body(429, e.message, code="rate_limit_exceeded", type_=e.kind)
    return Response(body, status=429, headers=openai_out.retry_headers(e.retry_after))
