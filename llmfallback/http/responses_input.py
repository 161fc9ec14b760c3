"""An OpenAI Responses body (POST /v1/responses), as the openai SDK and the Agents SDK send it,
read into the engine's ChatRequest. Stateless: nothing is stored, so every turn comes whole.

`input` (a string or items: messages, function calls and their outputs), `instructions`,
function `tools`, `tool_choice`, `text.format` (json_object, json_schema), `max_output_tokens`,
`temperature` and `top_p` are honoured. What we cannot do (stored state, hosted tools, images)
is an InvalidRequest naming the parameter, never silently dropped.
https://platform.openai.com/docs/api-reference/responses/create
"""

from __future__ import annotations

from llmfallback.core.types import ChatRequest, JsonSchema, Message, Tool, ToolCall, ToolChoice
from llmfallback.providers.openai_input import (
    MAX_MESSAGES,
    MAX_TOOLS,
    InvalidRequest,
    boolean,
    integer,
    number,
)

# Accepted and ignored: hints for OpenAI's own servers, reasoning settings (no provider here
# exposes its reasoning), `include` (we produce none of what it can ask for) and
# `max_tool_calls` (it bounds hosted tools, which are refused).
IGNORED = frozenset({"metadata", "service_tier", "prompt_cache_key", "prompt_cache_retention"})
IGNORED |= {"safety_identifier", "truncation", "include", "reasoning", "stream_options", "user"}
IGNORED |= {"max_tool_calls"}
KNOWN = IGNORED | {"model", "input", "instructions", "tools", "tool_choice", "text", "stream"}
KNOWN |= {"max_output_tokens", "temperature", "top_p", "parallel_tool_calls", "store"}
KNOWN |= {"previous_response_id", "background", "top_logprobs"}
ROLES = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}
TEXT_PARTS = frozenset({"input_text", "output_text", "text"})
SKIPPED_ITEMS = frozenset({"reasoning"})  # echoed back by agents; nothing here to replay


def responses_request(body: dict) -> ChatRequest:
    """The ChatRequest `body` asks for; raises InvalidRequest for anything we cannot honour."""
    _check_fields(body)
    schema, json_mode = _text_format(body.get("text"))
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise InvalidRequest("instructions must be a string", param="instructions")
    system = (Message("system", instructions),) if instructions else ()
    return ChatRequest(
        messages=system + _input(body.get("input")),
        temperature=number(body, "temperature", 0, 2),
        max_tokens=integer(body, "max_output_tokens", 1, 1_000_000),
        json_mode=json_mode,
        json_schema=schema,
        tools=_tools(body.get("tools")),
        tool_choice=_tool_choice(body.get("tool_choice")),
        parallel_tool_calls=boolean(body, "parallel_tool_calls"),
        top_p=number(body, "top_p", 0, 1),
        user=_user(body),
    )


def _check_fields(body: dict) -> None:
    unknown = sorted(set(body) - KNOWN)
    if unknown:
        name = unknown[0][:64]
        raise InvalidRequest(f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter")
    if body.get("previous_response_id") is not None:
        raise InvalidRequest(
            "previous_response_id is not supported: this gateway keeps no responses (store is"
            " always false). Send the whole conversation in `input`.",
            param="previous_response_id",
        )
    if body.get("background"):
        raise InvalidRequest("background responses are not supported", param="background")
    if body.get("top_logprobs"):
        raise InvalidRequest("top_logprobs is not supported; only 0", param="top_logprobs")
    if not isinstance(body.get("model"), str) or not body["model"].strip():
        raise InvalidRequest("Missing required parameter: 'model'.", param="model")
    boolean(body, "stream")
    boolean(body, "store")


def _input(raw) -> tuple[Message, ...]:
    if isinstance(raw, str) and raw:
        return (Message("user", raw),)
    if not isinstance(raw, list) or not raw:
        raise InvalidRequest("input must be a string or a non-empty array", param="input")
    if len(raw) > MAX_MESSAGES:
        raise InvalidRequest(f"input: at most {MAX_MESSAGES} items", param="input")
    messages: list[Message] = []
    for i, item in enumerate(raw):
        _add(messages, item, f"input[{i}]")
    return tuple(messages)


def _add(messages: list[Message], item, where: str) -> None:
    """Append `item`: consecutive function calls join one assistant message, as Chat Completions
    (and so every provider behind it) wants a turn's calls together before their results."""
    kind = item.get("type", "message") if isinstance(item, dict) else None
    if not isinstance(kind, str):  # a list or an object is unhashable: no set lookup for it
        kind = None
    if kind in SKIPPED_ITEMS:
        return
    if kind == "message":
        messages.append(_message(item, where))
    elif kind == "function_call":
        call = _call(item, where)
        last = messages[-1] if messages else None
        if last is not None and last.role == "assistant":
            messages[-1] = Message(
                "assistant", last.content, last.parts, (*last.tool_calls, call), name=last.name
            )
        else:
            messages.append(Message("assistant", "", tool_calls=(call,)))
    elif kind == "function_call_output":
        call_id, output = item.get("call_id"), item.get("output")
        if not isinstance(call_id, str) or not call_id:
            raise InvalidRequest(f"{where}.call_id is required", param=f"{where}.call_id")
        text = output if isinstance(output, str) else _text(output, f"{where}.output")[0]
        messages.append(Message("tool", text, tool_call_id=call_id))
    else:
        message = f"{where}: items of type {str(kind)[:60]!r} are not supported"
        raise InvalidRequest(message, param=where)


def _message(item: dict, where: str) -> Message:
    role = item.get("role")
    role = ROLES.get(role) if isinstance(role, str) else None
    if role is None:
        raise InvalidRequest(f"{where}.role must be one of {sorted(ROLES)}", param=f"{where}.role")
    content = item.get("content")
    if isinstance(content, str):
        return Message(role, content)
    text, parts = _text(content, f"{where}.content")
    return Message(role, text, parts)


def _text(raw, where: str) -> tuple[str, tuple[str, ...]]:
    if not isinstance(raw, list):
        raise InvalidRequest(f"{where} must be a string or an array of parts", param=where)
    parts = []
    for j, p in enumerate(raw):
        kind = p.get("type") if isinstance(p, dict) else None
        if (
            not isinstance(kind, str)
            or kind not in TEXT_PARTS
            or not isinstance(p.get("text"), str)
        ):
            message = f"{where}[{j}]: only text parts are supported, not {str(kind)[:40]!r}"
            raise InvalidRequest(message, param=f"{where}[{j}]")
        parts.append(p["text"])
    return "".join(parts), tuple(parts)


def _call(item: dict, where: str) -> ToolCall:
    call_id, name, arguments = item.get("call_id"), item.get("name"), item.get("arguments", "{}")
    if not (isinstance(call_id, str) and isinstance(name, str) and isinstance(arguments, str)):
        message = f"{where}: a function_call needs call_id, name and arguments (a JSON string)"
        raise InvalidRequest(message, param=where)
    return ToolCall(call_id, name, arguments)


def _tools(raw) -> tuple[Tool, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) > MAX_TOOLS:
        raise InvalidRequest(f"tools must be an array of at most {MAX_TOOLS}", param="tools")
    tools = []
    for i, t in enumerate(raw):
        kind = t.get("type") if isinstance(t, dict) else None
        if kind != "function":
            message = f"tools[{i}]: only function tools are supported, not {str(kind)[:60]!r}"
            raise InvalidRequest(message, param=f"tools[{i}]")
        name, params = t.get("name"), t.get("parameters")
        if (
            not isinstance(name, str)
            or not name
            or (params is not None and not isinstance(params, dict))
        ):
            raise InvalidRequest("a tool needs a name and object parameters", param=f"tools[{i}]")
        description = t.get("description") if isinstance(t.get("description"), str) else ""
        strict = t.get("strict") if isinstance(t.get("strict"), bool) else None
        tools.append(Tool(name, description, params, strict))
    return tuple(tools)


def _tool_choice(raw) -> ToolChoice | None:
    if raw is None:
        return None
    if raw in ("auto", "none", "required"):
        return ToolChoice(raw)
    if isinstance(raw, dict) and raw.get("type") == "function" and isinstance(raw.get("name"), str):
        return ToolChoice("required", raw["name"])
    message = 'tool_choice must be "auto", "none", "required" or {"type": "function", "name"}'
    raise InvalidRequest(message, param="tool_choice")


def _text_format(raw) -> tuple[JsonSchema | None, bool]:
    """text.format as (schema, json_mode); text.verbosity is a hint and ignored."""
    if raw is None:
        return None, False
    fmt = raw.get("format") if isinstance(raw, dict) else "?"
    if fmt is None:
        return None, False
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "text":
        return None, False
    if kind == "json_object":
        return None, True
    if (
        kind == "json_schema"
        and isinstance(fmt.get("name"), str)
        and isinstance(fmt.get("schema"), dict)
    ):
        strict = fmt.get("strict") if isinstance(fmt.get("strict"), bool) else None
        description = fmt.get("description") if isinstance(fmt.get("description"), str) else ""
        return JsonSchema(fmt["name"], fmt["schema"], strict, description), True
    message = "text.format must be text, json_object, or json_schema with a name and a schema"
    raise InvalidRequest(message, param="text.format")


def _user(body: dict) -> str | None:
    user = body.get("safety_identifier") or body.get("user")
    return user[:256] if isinstance(user, str) else None
