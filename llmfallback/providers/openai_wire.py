"""ChatRequest <-> OpenAI chat-completions JSON, shared by the adapter and a streaming path.

https://platform.openai.com/docs/api-reference/chat/create
"""

from __future__ import annotations

import json
import uuid

from llmfallback.core.errors import InvalidResponse
from llmfallback.core.types import ChatRequest, Message, ToolCall, ToolChoice, Usage

from . import reply
from .shapes import as_count, as_dict, as_list, as_str, as_text


def request_body(
    request: ChatRequest,
    *,
    model: str,
    max_tokens_field: str = "max_tokens",
    prefill_flag: str | None = None,
) -> dict:
    """The chat/completions body for `request`; options left unset are not sent. A prefill is
    a trailing assistant message (with `prefill_flag: true` where the server wants a flag)."""
    messages = [message_out(m) for m in request.messages]
    if request.prefill:
        turn = {"role": "assistant", "content": request.prefill}
        messages.append(turn | ({prefill_flag: True} if prefill_flag else {}))
    body = {"model": model, "messages": messages, "stream": False}
    optional = {
        "temperature": request.temperature,
        max_tokens_field: request.max_tokens,
        "top_p": request.top_p,
        "seed": request.seed,
        "presence_penalty": request.presence_penalty,
        "frequency_penalty": request.frequency_penalty,
        "user": request.user,
        "stop": list(request.stop) or None,
        "response_format": _response_format(request),
        "tools": [_tool_out(t) for t in request.tools] or None,
        "tool_choice": _tool_choice_out(request.tool_choice),
        "parallel_tool_calls": request.parallel_tool_calls if request.tools else None,
    }
    return body | {k: v for k, v in optional.items() if v is not None}


def message_out(m: Message) -> dict:
    content = [{"type": "text", "text": p} for p in m.parts] if m.parts else m.content
    if m.tool_calls and not m.content:
        content = None  # an assistant turn that only called tools
    out = {"role": m.role, "content": content}
    if m.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in m.tool_calls
        ]
    if m.tool_call_id is not None:
        out["tool_call_id"] = m.tool_call_id
    if m.name:
        out["name"] = m.name
    return out


def _response_format(request: ChatRequest) -> dict | None:
    schema = request.json_schema
    if schema is not None:
        spec = {"name": schema.name, "schema": schema.schema}
        if schema.description:
            spec["description"] = schema.description
        if schema.strict is not None:
            spec["strict"] = schema.strict
        return {"type": "json_schema", "json_schema": spec}
    return {"type": "json_object"} if request.json_mode else None


def _tool_out(tool) -> dict:
    function = {"name": tool.name}
    if tool.description:
        function["description"] = tool.description
    if tool.parameters is not None:
        function["parameters"] = tool.parameters
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def _tool_choice_out(choice: ToolChoice | None):
    if choice is None:
        return None
    if choice.function:
        return {"type": "function", "function": {"name": choice.function}}
    return choice.mode


def tool_calls_in(message: dict) -> tuple[ToolCall, ...]:
    """The function calls of an answer's message; calls without a name are not calls."""
    calls = []
    for item in as_list(message.get("tool_calls")):
        function = as_dict(as_dict(item).get("function"))
        name = as_str(function.get("name"))
        if not name:
            continue
        arguments = function.get("arguments")
        if not isinstance(arguments, str):  # some servers send the object itself
            arguments = json.dumps(arguments if isinstance(arguments, dict) else {})
        calls.append(ToolCall(as_str(item.get("id")) or new_call_id(), name, arguments))
    return tuple(calls)


def new_call_id() -> str:
    """An id for a call the provider named none for (OpenAI's ids look like call_…)."""
    return f"call_{uuid.uuid4().hex[:24]}"


# Read by the adapter (openai_compat.py) and its stream reader (openai_stream.py) alike.
def error_fields(data) -> tuple[str, str | None, str] | None:
    """(message, code, everything it says lowercased) from the error shapes seen in the wild.

    None if `data` is no error object.
    """
    if isinstance(data, list) and data:
        data = data[0]  # Gemini's OpenAI-compatible endpoint wraps errors in an array
    if not isinstance(data, dict):
        return None
    error = data.get("error")
    if error is None and data.get("object") == "error":
        error = data  # vLLM: {"object":"error","message":...,"code":400}
    if isinstance(error, str):
        # Ollama's native shape {"error": "model not found"}; xAI adds a string "code".
        code = as_str(data.get("code"))
        return error, code, f"{code or ''} {error}".lower()
    if not isinstance(error, dict):
        return None
    message = as_text(error.get("message")) or as_text(error)
    kind = as_str(error.get("type")) or as_str(error.get("status"))
    code = as_str(error.get("code"))
    if code is None:  # vLLM and Gemini put the HTTP status number there
        code = kind or scalar(error.get("code"))
    return message, code, f"{code or ''} {kind or ''} {message}".lower()


def scalar(value) -> str | None:
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def message_text(content) -> str | None:
    """A message's text: a string, or the text parts of a list of content parts joined."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return None
    # Some servers (Mistral's reasoning models, some proxies) send [{"type":"text","text":…}].
    texts = [
        p["text"]
        for p in content
        if isinstance(p, dict)
        and isinstance(p.get("text"), str)
        and p.get("type", "text") == "text"
    ]
    return "".join(texts) if texts else None


def usage_of(data: dict) -> Usage:
    usage = as_dict(data.get("usage"))
    return Usage(
        prompt_tokens=as_count(usage.get("prompt_tokens")),
        completion_tokens=as_count(usage.get("completion_tokens")),
        total_tokens=as_count(usage.get("total_tokens")),
    )


def json_object(data: str) -> dict:
    try:
        chunk = reply.loads(data)  # lone surrogates become U+FFFD
    except (ValueError, RecursionError):
        raise InvalidResponse("a stream event that is not JSON", status=200) from None
    if not isinstance(chunk, dict):
        raise InvalidResponse("a stream event that is not a JSON object", status=200)
    return chunk
