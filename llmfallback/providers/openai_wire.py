"""ChatRequest <-> OpenAI chat-completions JSON, shared by the adapter and a streaming path.

https://platform.openai.com/docs/api-reference/chat/create
"""

from __future__ import annotations

import json
import uuid

from llmfallback.core.types import ChatRequest, Message, ToolCall, ToolChoice

from .shapes import as_dict, as_list, as_str


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
