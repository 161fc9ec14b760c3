"""POST /v1/chat/completions and GET /v1/models: the gateway as a drop-in OpenAI endpoint.

Thin views: http/services.py and stream_services.py do the work; every answer, errors included,
is in OpenAI's shapes (openai_out) so the openai SDK raises the exception class it maps to each
status.
Chat POSTs arrive through chat.py (off DRF) and are answered by chat_answer here.
"""

from __future__ import annotations

import json

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework.response import Response
from rest_framework.views import APIView

from llmfallback import services as llm_services
from llmfallback.access.agent_keys import AgentKeyAuthentication
from llmfallback.access.limits import LimitExceeded, ProviderNotAllowed
from llmfallback.core.errors import AllProvidersFailed, CallerError, RequestUnsendable
from llmfallback.core.routing import UnknownModel
from llmfallback.http import services, stream_services
from llmfallback.ops import cache
from llmfallback.providers.openai_input import InvalidRequest

from . import openai_out, sse, timeouts, wire

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

    Agent keys only, as OpenAI's own API: /v1 goes around Django's authentication middleware
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
    RequestUnsendable,
)


def refused(e: Exception) -> HttpResponse:
    """The OpenAI error answer for one of REFUSALS."""
    if isinstance(e, LimitExceeded):
        return _over_limit(e)
    if isinstance(e, ProviderNotAllowed):
        return error_response(403, str(e), param="model", code=e.code)
    if isinstance(e, InvalidRequest):
        return error_response(400, e.message, param=e.param, code=e.code)
    if isinstance(e, UnknownModel):
        return error_response(404, str(e), param="model", code="model_not_found")
    if isinstance(e, CallerError):
        return _caller_error(e)
    if isinstance(e, RequestUnsendable):
        return _unsendable(e)
    return _all_failed(e)


class ChatCompletionsApi(OpenAIView):
    """Documents POST /v1/chat/completions and answers its other methods; POSTs are served by
    chat.chat_completions, off DRF (it is the hot path)."""

    def post(self, request):
        if not isinstance(request.data, dict):
            return error_response(400, "The body must be a JSON object.")
        return chat_answer(request.user, dict(request.data), request.META)


def chat_answer(agent, body: dict, meta) -> HttpResponse:
    """The answer to one chat completions body in `agent`'s name: a chat.completion, an event
    stream, or OpenAI's error envelope. `meta`: the request's WSGI environ (its cache headers,
    and the socket a stream is corked on)."""
    try:
        shorter = timeouts.requested(meta, body)
    except InvalidRequest as e:
        return refused(e)
    with llm_services.deadline_shortened(shorter):
        return _answer(agent, body, meta)


def _answer(agent, body: dict, meta) -> HttpResponse:
    if body.get("stream") is True:
        return _stream(agent, body, meta)
    try:
        result = services.agent_chat(
            agent=agent, body=body, cache=cache.wanted(_cache_headers(meta))
        )
    except REFUSALS as e:
        return refused(e)
    extra = {"x-d8-provider": result.provider}
    if verdict := cache.status(result):  # only when the request went through the cache
        extra["x-d8-cache"] = verdict
    return json_response(openai_out.completion_body(result), headers=extra)


_CACHE_HEADER_KEY = "HTTP_" + cache.HEADER.upper().replace("-", "_")  # its key in the environ


def _cache_headers(meta) -> dict[str, str]:
    """The two headers the response cache reads (ops/cache.wanted), taken straight from the
    environ: request.headers builds a dict of every header first."""
    return {
        "Cache-Control": meta.get("HTTP_CACHE_CONTROL", ""),
        cache.HEADER: meta.get(_CACHE_HEADER_KEY, ""),
    }


def _stream(agent, body: dict, meta) -> HttpResponse:
    """Headers go out with the first token, so they can name the provider that streams it;
    until then every failure is still an ordinary JSON error (a 503 with Retry-After...).
    Head, role chunk and first token leave in one packet (wire.py)."""
    try:
        include_usage, events = stream_services.agent_chat_stream(agent=agent, body=body)
        start = next(events)  # raises here, before any byte is sent
    except REFUSALS as e:
        return refused(e)
    cork = wire.FirstTokenCork.for_request(meta)
    return sse.response(
        sse.chunks(start, events, include_usage=include_usage, first_token_out=cork.release),
        start.provider,
    )


class ModelsApi(OpenAIView):
    def get(self, request):
        return Response(openai_out.models_body(services.openai_models()))


class ModelApi(OpenAIView):
    def get(self, request, model: str):
        found = [m for m in services.openai_models() if m["id"] == model]
        if not found:
            return error_response(
                404,
                f"The model `{model[:200]}` does not exist.",
                param="model",
                code="model_not_found",
            )
        return Response(openai_out.model_out(found[0]))


@csrf_exempt
def unknown_url(request):
    """Anything else under /v1/: a 404 in OpenAI's envelope."""
    message = f"Unknown request URL: {request.method} {request.path[:200]}."
    return error_response(404, message, code="unknown_url")


def json_response(body: dict, *, status: int = 200, headers=None) -> HttpResponse:
    """Compact UTF-8 JSON, as DRF's JSONRenderer writes it, without a renderer round."""
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return HttpResponse(content, status=status, headers=headers, content_type="application/json")


def error_response(status: int, message: str, *, headers=None, **fields) -> HttpResponse:
    body = openai_out.error_body(status, message, **fields)
    return json_response(body, status=status, headers=headers)


def _caller_error(e: CallerError) -> HttpResponse:
    """Refused for the request's own sake: 413 when too large for every provider, else 4xx."""
    status = e.http_status
    if e.refusals:
        reasons = "; ".join(f"{name}: {err.message}" for name, err in e.refusals)
        message = f"Every provider refused this request ({reasons})"
    else:
        message = e.error.message
    body = openai_out.error_body(status, message, code=e.error.kind.value)
    body["x_d8"] = {"attempts": openai_out.attempts_out(e.attempts)}
    return json_response(body, status=status)


def _unsendable(e: RequestUnsendable) -> HttpResponse:
    """No provider was called: the request would not encode (400), or we failed to build it."""
    if e.caller_fault:
        return error_response(
            400, f"The request is not valid: {e.message}.", code="invalid_request"
        )
    return error_response(500, "The gateway could not build the request.", code="internal")


def _all_failed(e: AllProvidersFailed) -> HttpResponse:
    """503 with Retry-After when some provider says when it will be back."""
    message = f"No provider could answer: {e.reason}."
    body = openai_out.error_body(503, message, code="providers_unavailable")
    body["x_d8"] = {"attempts": openai_out.attempts_out(e.attempts)}
    if getattr(e, "escalation", None):  # set by services.llm_chat when the Congress took it
        body["x_d8"] |= e.escalation.as_dict()
    return json_response(body, status=503, headers=openai_out.retry_headers(e.retry_after))


def _over_limit(e: LimitExceeded) -> HttpResponse:
    """429 as OpenAI sends its own rate limits: the SDK raises RateLimitError and, when it
    retries, waits the retry-after-ms / Retry-After given here."""
    body = openai_out.error_body(429, e.message, code="rate_limit_exceeded", type_=e.kind)
    return json_response(body, status=429, headers=openai_out.retry_headers(e.retry_after))
