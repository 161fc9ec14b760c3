"""POST /v1/responses: the gateway as OpenAI's Responses API (the Agents SDK's default), stateless.

Thin view: the body is read into a ChatRequest (responses_input), served along the route its
`model` names by the same engine, health, limits, cache rules and escalation as
/v1/chat/completions (http/services.py), and answered as a response object or its event stream
(responses_out, responses_stream). Auth, body reading and errors are /v1's own (chat.py,
openai.py): OpenAI's envelope, so the SDK raises the exception class it maps to each status.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from llmfallback.http import services, stream_services
from llmfallback.ops import cache

from . import chat, openai, responses_input, responses_out, responses_stream, sse, wire


@csrf_exempt
def responses(request) -> HttpResponse:
    if request.method != "POST":
        message = f"Method {request.method[:20]} not allowed: POST a response request."
        return openai.error_response(405, message, code="method_not_allowed")
    agent, refusal = chat.agent_of(request)
    if refusal is not None:
        return refusal
    body, refusal = chat.json_body(request)
    if refusal is not None:
        services.agent_request_refused(agent=agent)  # every request counts, whatever its end
        return refusal
    try:
        wanted = responses_input.responses_request(body)
    except openai.REFUSALS as e:
        services.agent_request_refused(agent=agent)
        return openai.refused(e)
    try:
        if body.get("stream") is True:
            return _stream(agent, wanted, body, request.META)
        result = services.agent_chat(
            agent=agent, request=wanted, model=body["model"], cache=cache.wanted(request.headers)
        )
    except openai.REFUSALS as e:
        return openai.refused(e)
    extra = {"x-d8-provider": result.provider}
    if verdict := cache.status(result):  # only when the request went through the cache
        extra["x-d8-cache"] = verdict
    return openai.json_response(responses_out.response_body(result, body), headers=extra)


def _stream(agent, wanted, body: dict, meta) -> HttpResponse:
    """Headers go out with the first token (as /v1/chat/completions streams): until then every
    failure falls back, and when none can start the answer is an ordinary JSON error."""
    events = stream_services.agent_routed_stream(agent=agent, request=wanted, model=body["model"])
    start = next(events)  # raises here, before any byte is sent
    cork = wire.FirstTokenCork.for_request(meta)
    return sse.response(
        responses_stream.response_events(start, events, body, first_token_out=cork.release),
        start.provider,
    )
