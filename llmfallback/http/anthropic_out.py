"""What /v1/messages answers, in Anthropic's shapes: the message, its errors, a token estimate.

https://docs.anthropic.com/en/api/messages (the Message object)
https://docs.anthropic.com/en/api/errors (the error envelope and its types by status)
"""

from __future__ import annotations

import json
import math
import uuid

from llmfallback.core.types import ChatRequest, ChatResult, ToolCall, Usage

from . import openai_out

# The engine's finish reasons (OpenAI's words) as Anthropic's stop reasons.
STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
}
CHARS_PER_TOKEN = 4  # the usual rule of thumb for English text and code


def message_id() -> str:
    return f"msg_d8{uuid.uuid4().hex}"


def message_body(result: ChatResult) -> dict:
    """A `message` for `result`; `model` names who served it as provider/model."""
    calls = result.completion.tool_calls if result.completion else ()
    content = [{"type": "text", "text": result.content}] if result.content or not calls else []
    content += [tool_use(c) for c in calls]
    return {
        "id": message_id(),
        "type": "message",
        "role": "assistant",
        "model": f"{result.provider}/{result.model}",
        "content": content,
        "stop_reason": stop_reason(openai_out.finish_reason(result)),
        "stop_sequence": None,
        "usage": usage_out(result.usage),
        "x_d8": {"provider": result.provider, "attempts": openai_out.attempts_out(result.attempts)},
    }


def tool_use(call: ToolCall) -> dict:
    return {"type": "tool_use", "id": call.id, "name": call.name, "input": tool_input(call)}


def tool_input(call: ToolCall) -> dict:
    """The call's arguments as the object Anthropic's `input` is. Arguments that are not a JSON
    object (a model's slip) stay readable under one key rather than being dropped."""
    try:
        value = json.loads(call.arguments or "{}")
    except ValueError:
        value = None
    return value if isinstance(value, dict) else {"arguments": call.arguments}


def stop_reason(finish: str | None) -> str:
    return STOP_REASONS.get(finish or "stop", "end_turn")


def usage_out(usage: Usage) -> dict:
    return {"input_tokens": usage.prompt_tokens, "output_tokens": usage.completion_tokens}


def error_body(status: int, message: str, *, type_: str | None = None) -> dict:
    """Anthropic's envelope; the SDK raises the exception class it maps to `status`."""
    kind = (
        type_
        or ERROR_TYPES.get(status)
        or ("api_error" if status >= 500 else "invalid_request_error")
    )
    return {"type": "error", "error": {"type": kind, "message": message}}


def estimated_tokens(request: ChatRequest) -> int:
    """A local estimate of the request's input tokens: its text (messages, tool calls and
    results, tool definitions) at CHARS_PER_TOKEN characters a token. No provider is asked:
    each counts differently, and counting must never cost a call or walk the fallback chain."""
    chars = sum(
        len(m.content) + sum(len(c.arguments) + len(c.name) for c in m.tool_calls)
        for m in request.messages
    )
    chars += sum(
        len(t.name) + len(t.description) + len(json.dumps(t.parameters or {}))
        for t in request.tools
    )
    if request.json_schema is not None:
        chars += len(json.dumps(request.json_schema.schema))
    return max(1, math.ceil(chars / CHARS_PER_TOKEN))
