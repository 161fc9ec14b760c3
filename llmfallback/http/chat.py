"""POST /v1/chat/completions as a plain Django view: the gateway's hottest path, kept off DRF.

DRF's request wrapping, content negotiation, authenticator loop and template-response rendering
cost this one endpoint ~0.1 ms of CPU per request (bench/profile_v1.py) for nothing it needs:
it takes one kind of caller (a Bearer agent key) and one kind of body (a JSON object), and
answers JSON or an event stream. It answers every framework error DRF would, in the same order
(406, 401, then 415/413/400) and in OpenAI's envelope. GET and OPTIONS still go to the DRF view,
which also documents this endpoint in the OpenAPI schema (openai_schema.py).
"""

from __future__ import annotations

from django.http import HttpResponse
from django.http.request import MediaType
from django.views.decorators.csrf import csrf_exempt
from rest_framework.exceptions import APIException

from d8site.api.parsers import BoundedJSONParser
from llmfallback.access.agent_keys import AgentKeyAuthentication, agent_for_key

from . import openai, openai_schema, services

JSON = "application/json"
EVENT_STREAM = "text/event-stream"
_documented = openai_schema.ChatCompletionsApi.as_view()  # GET/OPTIONS..., and the schema


@csrf_exempt
def chat_completions(request) -> HttpResponse:
    if request.method != "POST":
        return _documented(request)
    if not _acceptable(request.META.get("HTTP_ACCEPT")):
        return openai.error_response(
            406, "Could not satisfy the request Accept header.", code="not_acceptable"
        )
    agent, refusal = agent_of(request)
    if refusal is not None:
        return refusal
    body, refusal = json_body(request)
    if refusal is not None:
        services.agent_request_refused(agent=agent)  # every request counts, whatever its end
        return refusal
    return openai.chat_answer(agent, body, request.META)


# The schema generator (drf-spectacular) documents a callback by its DRF class.
chat_completions.cls = _documented.cls
chat_completions.initkwargs = _documented.initkwargs


def _acceptable(accept: str | None) -> bool:
    """Whether an Accept header allows JSON or an event stream. What SDKs send is answered
    without parsing the header (Django parses it afresh on every call)."""
    if accept in _ALWAYS:
        return True
    types = [MediaType(t) for t in accept.split(",") if t.strip()]
    return any(t.match(JSON) or t.match(EVENT_STREAM) for t in types if t.quality != 0)


_ALWAYS = {None, "", "*/*", JSON, EVENT_STREAM, f"{JSON}, {EVENT_STREAM}"}


def agent_of(request):
    """(the agent key, None), or (None, a 401 in OpenAI's envelope) as DRF would answer it."""
    header = request.META.get("HTTP_AUTHORIZATION", "").split()
    if not header or header[0].lower() != "bearer":
        return None, _unauthorized("Authentication credentials were not provided.")
    if len(header) != 2:
        return None, _unauthorized("Authorization header must be 'Bearer <key>'.")
    agent = agent_for_key(header[1])
    if agent is None:
        return None, _unauthorized("Invalid or revoked agent key.")
    return agent, None


def _unauthorized(message: str) -> HttpResponse:
    response = openai.error_response(401, message, code="invalid_api_key")
    response["WWW-Authenticate"] = AgentKeyAuthentication().authenticate_header(None)
    return response


def json_body(request):
    """(the JSON object, None), or (None, a 415/413/400 in OpenAI's envelope)."""
    if not request.content_type and request.META.get("CONTENT_LENGTH") in (None, "", "0"):
        return None, openai.error_response(400, "The request has no body: send a JSON object.")
    if request.content_type != JSON:
        message = f'Unsupported media type "{request.content_type}" in request.'
        return None, openai.error_response(415, message, code="unsupported_media_type")
    try:
        data = BoundedJSONParser().parse(request, JSON, {"request": request})
    except APIException as e:
        code = "request_too_large" if e.status_code == 413 else None
        param = getattr(e, "param", None)  # parsers.LoneSurrogate names where it is
        return None, openai.error_response(e.status_code, str(e.detail), code=code, param=param)
    if not isinstance(data, dict):
        return None, openai.error_response(400, "The body must be a JSON object.")
    return data, None
