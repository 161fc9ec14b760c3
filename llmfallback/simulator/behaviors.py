"""Which behaviour names each provider answers, and what each one sends."""

import dataclasses

from . import common, deepseek, gemini, generic, groq, openai_shape, streams
from .reply import Reply, compact, dense, pretty

PROVIDERS = {"groq": groq, "gemini": gemini, "deepseek": deepseek}

NAMES = (
    "ok",
    "rate_limit",
    "quota",
    "auth",
    "unavailable",
    "hang",
    "keepalive",
    "slow_headers",
    "malformed",
    "truncated",
    "empty",
    "json_invalid",
    "blocked",
    "context_length",
    "bad_request",
    "error_in_200",
    "error_in_stream",
    "tool_call",
    "stream_stall",
)


def module_for(provider: str):
    """Groq, Gemini and DeepSeek by name; any other name is a local OpenAI-compatible server."""
    return PROVIDERS.get(provider, generic)


def _plain(req):
    return dataclasses.replace(req, stream=False)


def _openai_only(mod, name, req, params) -> Reply:
    """Behaviours whose bytes follow from the OpenAI shape once the provider's success is known."""
    if name == "empty":
        if params.get("variant") == "empty_content":
            return mod.success(req, params, content="")
        return mod.success(req, params, content=openai_shape.NO_CHOICES)
    if name == "json_invalid":
        return mod.success(req, params, content="\n\n   \n", finish="stop")
    if name == "blocked":
        return mod.success(req, params, content="", finish="content_filter")
    if name == "tool_call":  # OpenAI-shaped servers: content null, finish_reason tool_calls
        calls = openai_shape.tool_calls(req, params)
        return mod.success(req, params, content=None, finish="tool_calls", tool_calls=calls)
    if name == "error_in_stream":  # param after_text: the answer's start, before the error
        obj = {"id": "chatcmpl-sim", "created": 0, "model": req.model, "choices": []}
        before = params.get("after_text", "")
        return openai_shape.stream_events(obj, error=mod.ERROR_OBJECT, before_error=before)
    raise KeyError(name)


def respond(provider: str, name: str, req, params: dict) -> Reply:
    """The reply for one request under behaviour `name`."""
    mod = module_for(provider)
    if req.prefill and params.get("reject_prefill"):
        return compact(400, common.PREFILL_REJECTED)
    if name == "ok":
        reply = mod.success(req, params)
        reply.delay_s = float(params.get("delay_s", 0))
        return streams.spread(reply, float(params.get("spread_s", 0)))
    if name == "hang":
        return common.hang(req, params)
    if name == "keepalive" and req.stream:
        return streams.queued(mod.success(req, params), params)
    if name == "stream_stall":  # param tool_call: stall (or cut) a tool call's pieces instead
        answer = respond(provider, "tool_call", req, params) if params.get("tool_call") else None
        return streams.stalled(answer or mod.success(req, params), params)
    if name == "keepalive":
        return common.keepalive(req, params, mod.success(_plain(req), params))
    if name == "slow_headers":
        return common.slow_headers(req, params, mod.success(_plain(req), params))
    if name == "malformed" and req.stream:
        return streams.malformed(mod.success(req, params), params)
    if name == "malformed":
        return common.malformed(mod.success(_plain(req), params))
    if name == "truncated":
        return common.truncated(mod.success(_plain(req), params))
    if name == "error_in_200":
        return pretty(200, mod.ERROR_OBJECT) if mod is gemini else dense(mod.ERROR_OBJECT)
    own = getattr(mod, name, None)
    if own is not None:
        return own(req, params)
    return _openai_only(mod, name, req, params)
