"""POST /v1/messages and /v1/messages/count_tokens: the gateway as an Anthropic Messages API, for
Claude Code and the Anthropic SDKs (ANTHROPIC_BASE_URL pointed here, an agent key as the key).

Thin views: the body is read into a ChatRequest (anthropic_input), served along the route its
`model` names by the same engine, health, limits, cache rules and escalation as /v1/chat/
completions (http/services.py), and answered in Anthropic's shapes (anthropic_out, _stream),
errors included, so the SDK raises the exception class it maps to each status.
"""

from __future__ import annotations

import json

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework.exceptions import APIException

from d8site.api.parsers import BoundedJSONParser
from llmfallback.access.agent_keys import agent_for_key
from llmfallback.access.limits import LimitExceeded, ProviderNotAllowed
from llmfallback.core.errors import AllProvidersFailed, CallerError, RequestUnsendable
from llmfallback.core.routing import UnknownModel
from llmfallback.http import services, stream_services
from llmfallback.ops import cache
from llmfallback.providers.openai_input import InvalidRequest

from . import anthropic_input, anthropic_out, anthropic_stream, openai, openai_out, sse, wire

JSON = "application/json"


@csrf_exempt
def messages(request) -> HttpResponse:
    agent, body, refusal = _admitted(request)
    if refusal is not None:
        if agent is not None:  # a key whose body we could not read: still one of its requests
            services.agent_request_refused(agent=agent)
        return refusal
    try:
        chat = anthropic_input.messages_request(body)
    except openai.REFUSALS as e:
        services.agent_request_refused(agent=agent)  # every request counts, whatever its end
        return _refused(e)
    try:
        if body.get("stream") is True:
            return _stream(agent, chat, body["model"], request.META)
        result = services.agent_chat(
            agent=agent, request=chat, model=body["model"], cache=cache.wanted(request.headers)
        )
    except openai.REFUSALS as e:
        return _refused(e)
    extra = {"x-d8-provider": result.provider}
    if verdict := cache.status(result):  # only when the request went through the cache
        extra["x-d8-cache"] = verdict
    return _json(anthropic_out.message_body(result), headers=extra)


def _stream(agent, chat, model: str, meta) -> HttpResponse:
    """Headers go out with the first token (as /v1/chat/completions streams): until then every
    failure falls back, and when none can start the answer is an ordinary JSON error."""
    events = stream_services.agent_routed_stream(agent=agent, request=chat, model=model)
    start = next(events)  # raises here, before any byte is sent
    cork = wire.FirstTokenCork.for_request(meta)
    return sse.response(
        anthropic_stream.message_events(start, events, first_token_out=cork.release),
        start.provider,
    )


@csrf_exempt
def count_tokens(request) -> HttpResponse:
    """A local estimate, said to be one: counting never calls a provider (so it can never walk
    the fallback chain) and is not one of the agent's requests."""
    _, body, refusal = _admitted(request)
    if refusal is not None:
        return refusal
    try:
        estimate = anthropic_out.estimated_tokens(anthropic_input.count_request(body))
    except InvalidRequest as e:
        return _refused(e)
    method = f"estimated locally at {anthropic_out.CHARS_PER_TOKEN} characters a token"
    body = {"input_tokens": estimate, "x_d8": {"estimated": True, "method": method}}
    return _json(body, headers={"x-d8-token-count": "estimate"})


def _admitted(request):
    """(agent, body, None), or (the agent if known, None, the answer refusing the request)."""
    if request.method != "POST":
        return None, None, _error(405, f"Method {request.method[:20]} not allowed.")
    agent = agent_for_key(_key(request.META)) if _key(request.META) else None
    if agent is None:
        said = "Invalid or revoked agent key." if _key(request.META) else "No API key given."
        return None, None, _error(401, f"{said} Send an agent key in x-api-key.")
    if request.content_type != JSON:
        message = f'Unsupported media type "{request.content_type[:100]}": send JSON.'
        return agent, None, _error(415, message)
    try:
        body = BoundedJSONParser().parse(request, JSON, {"request": request})
    except APIException as e:
        return agent, None, _error(e.status_code, str(e.detail))
    if not isinstance(body, dict):
        return agent, None, _error(400, "The body must be a JSON object.")
    return agent, body, None


def _key(meta) -> str:
    """The agent key: x-api-key as Anthropic's SDKs send it, or a Bearer token (auth_token)."""
    if key := meta.get("HTTP_X_API_KEY", "").strip():
        return key
    scheme, _, token = meta.get("HTTP_AUTHORIZATION", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _refused(e: Exception) -> HttpResponse:
    """The Anthropic error answer for one of openai.REFUSALS."""
    if isinstance(e, LimitExceeded):
        return _error(429, e.message, headers=openai_out.retry_headers(e.retry_after))
    if isinstance(e, ProviderNotAllowed):
        return _error(403, str(e))
    if isinstance(e, InvalidRequest):
        return _error(400, e.message)
    if isinstance(e, UnknownModel):
        return _error(404, str(e))
    if isinstance(e, CallerError):
        return _caller_error(e)
    if isinstance(e, RequestUnsendable):  # no provider was called
        return _error(400 if e.caller_fault else 500, e.message)
    return _all_failed(e)


def _caller_error(e: CallerError) -> HttpResponse:
    status = e.http_status
    if e.refusals:
        reasons = "; ".join(f"{name}: {err.message}" for name, err in e.refusals)
        message = f"Every provider refused this request ({reasons})"
    else:
        message = e.error.message
    body = anthropic_out.error_body(status, message)
    body["x_d8"] = {"attempts": openai_out.attempts_out(e.attempts)}
    return _json(body, status=status)


def _all_failed(e: AllProvidersFailed) -> HttpResponse:
    body = anthropic_out.error_body(503, f"No provider could answer: {e.reason}.")
    body["x_d8"] = {"attempts": openai_out.attempts_out(e.attempts)}
    return _json(body, status=503, headers=openai_out.retry_headers(e.retry_after))


def _error(status: int, message: str, *, headers=None) -> HttpResponse:
    return _json(anthropic_out.error_body(status, message), status=status, headers=headers)


def _json(body: dict, *, status: int = 200, headers=None) -> HttpResponse:
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return HttpResponse(content, status=status, headers=headers, content_type=JSON)
