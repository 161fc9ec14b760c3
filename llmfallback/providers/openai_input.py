"""An OpenAI chat-completions body, as agents send it, read into a ChatRequest.

Everything we can honour is read; what we cannot (n > 1, logprobs, audio, images) is an
InvalidRequest naming the parameter, never silently dropped.
https://platform.openai.com/docs/api-reference/chat/create
"""

from __future__ import annotations

import math

from llmfallback.core.types import ChatRequest, JsonSchema, Message, Tool, ToolCall, ToolChoice

MAX_MESSAGES = 1000
MAX_TOOLS = 128  # OpenAI's own limit
MAX_STOP = 4
ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
ROLES |= {"tool": "tool"}
# Fields the SDK may send that change nothing we do (metadata for OpenAI's own dashboards).
IGNORED = frozenset({"metadata", "stream_options", "store", "service_tier", "prompt_cache_key"})
IGNORED |= {"safety_identifier"}
# Fields we accept only at the value that asks for nothing special.
NEUTRAL = {"n": (1,), "logprobs": (False,), "top_logprobs": (0,), "logit_bias": ({},)}
UNSUPPORTED = frozenset({"audio", "modalities", "prediction", "web_search_options"})
UNSUPPORTED |= {"reasoning_effort", "functions", "function_call", "verbosity"}
KNOWN = (
    frozenset(
        {"model", "messages", "stream", "temperature", "top_p", "max_tokens", "tools"}
        | {"max_completion_tokens", "tool_choice", "parallel_tool_calls", "response_format"}
        | {"stop", "seed", "presence_penalty", "frequency_penalty", "user"}
        | {"timeout"}  # the caller's own shorter deadline (http/timeouts.py)
    )
    | IGNORED
    | set(NEUTRAL)
    | UNSUPPORTED
)
MESSAGE_FIELDS = frozenset({"role", "content", "name", "tool_calls", "tool_call_id"})
# An assistant message echoed back from an answer carries these, usually null.
ECHOED = frozenset({"refusal", "annotations", "audio", "function_call"})


class InvalidRequest(ValueError):
    """The body asks for something malformed or that we cannot honour (a 400 to the caller)."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message, self.param, self.code = message, param, code


def chat_request(body: dict) -> ChatRequest:
    """The ChatRequest `body` asks for; raises InvalidRequest for anything we cannot honour."""
    _check_fields(body)
    stream_wanted(body)
    schema, json_mode = _response_format(body.get("response_format"))
    return ChatRequest(
        messages=_messages(body.get("messages")),
        temperature=number(body, "temperature", 0, 2),
        max_tokens=_max_tokens(body),
        json_mode=json_mode,
        json_schema=schema,
        tools=_tools(body.get("tools")),
        tool_choice=_tool_choice(body.get("tool_choice")),
        parallel_tool_calls=boolean(body, "parallel_tool_calls"),
        stop=_stop(body.get("stop")),
        top_p=number(body, "top_p", 0, 1),
        seed=integer(body, "seed", -(2**63), 2**63 - 1),
        # 0 is the default everywhere: not sent, so providers without penalties still serve it.
        presence_penalty=number(body, "presence_penalty", -2, 2) or None,
        frequency_penalty=number(body, "frequency_penalty", -2, 2) or None,
        user=string(body, "user", 256),
    )


def stream_wanted(body: dict) -> tuple[bool, bool]:
    """(stream, include_usage) as the body asks; stream_options only with stream: true."""
    stream = bool(boolean(body, "stream"))
    options = body.get("stream_options")
    if options is None:
        return stream, False
    if not stream:
        message = "stream_options is only allowed when stream is true"
        raise InvalidRequest(message, param="stream_options")
    if not isinstance(options, dict):
        raise InvalidRequest("stream_options must be an object", param="stream_options")
    usage = options.get("include_usage")
    if usage is not None and not isinstance(usage, bool):
        param = "stream_options.include_usage"
        raise InvalidRequest("include_usage must be a boolean", param=param)
    return stream, bool(usage)


def _check_fields(body: dict) -> None:
    unknown = sorted(set(body) - KNOWN)
    if unknown:
        raise InvalidRequest(
            f"Unrecognized request argument supplied: {unknown[0][:64]}", param=unknown[0][:64]
        )
    for name in sorted(UNSUPPORTED & set(body)):
        if body[name] is not None:
            raise InvalidRequest(f"{name} is not supported by this gateway", param=name)
    for name, neutral in NEUTRAL.items():
        value = body.get(name)
        if value is not None and value not in neutral:
            raise InvalidRequest(
                f"{name}={value!r} is not supported; only {neutral[0]!r}", param=name
            )
    if not isinstance(body.get("model"), str) or not body["model"].strip():
        raise InvalidRequest("you must provide a model parameter", param="model")


def _messages(raw) -> tuple[Message, ...]:
    if not isinstance(raw, list) or not raw:
        raise InvalidRequest("messages must be a non-empty array", param="messages")
    if len(raw) > MAX_MESSAGES:
        raise InvalidRequest(f"at most {MAX_MESSAGES} messages", param="messages")
    return tuple(_message(m, f"messages[{i}]") for i, m in enumerate(raw))


def _message(m, where: str) -> Message:
    if not isinstance(m, dict):
        raise InvalidRequest(f"{where} must be an object", param=where)
    extra = sorted(k for k in set(m) - MESSAGE_FIELDS if not (k in ECHOED and not m[k]))
    if extra:
        raise InvalidRequest(
            f"{where}.{extra[0][:64]} is not supported", param=f"{where}.{extra[0][:64]}"
        )
    raw_role = m.get("role")
    role = ROLES.get(raw_role) if isinstance(raw_role, str) else None  # a list is unhashable
    if role is None:
        raise InvalidRequest(f"{where}.role must be one of {sorted(ROLES)}", param=f"{where}.role")
    calls = _message_calls(m.get("tool_calls"), where) if role == "assistant" else ()
    text, parts = _content(m.get("content"), f"{where}.content", optional=bool(calls))
    tool_call_id = m.get("tool_call_id")
    if role == "tool" and not (isinstance(tool_call_id, str) and tool_call_id):
        raise InvalidRequest(f"{where}.tool_call_id is required", param=f"{where}.tool_call_id")
    name = m.get("name") if isinstance(m.get("name"), str) else None
    return Message(role, text, parts, calls, tool_call_id if role == "tool" else None, name)


def _content(raw, where: str, *, optional: bool) -> tuple[str, tuple[str, ...]]:
    if raw is None and optional:
        return "", ()
    if isinstance(raw, str):
        return raw, ()
    if isinstance(raw, list) and raw:
        parts = []
        for i, p in enumerate(raw):
            if (
                not isinstance(p, dict)
                or p.get("type") != "text"
                or not isinstance(p.get("text"), str)
            ):
                raise InvalidRequest("only text content parts are supported", param=f"{where}[{i}]")
            parts.append(p["text"])
        return "".join(parts), tuple(parts)
    raise InvalidRequest(f"{where} must be a string or an array of text parts", param=where)


def _message_calls(raw, where: str) -> tuple[ToolCall, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InvalidRequest(f"{where}.tool_calls must be an array", param=f"{where}.tool_calls")
    calls = []
    for i, c in enumerate(raw):
        at = f"{where}.tool_calls[{i}]"
        function = c.get("function") if isinstance(c, dict) else None
        ok = isinstance(function, dict) and isinstance(c.get("id"), str)
        if not ok or not isinstance(function.get("name"), str):
            raise InvalidRequest(f"{at} needs an id and a function name", param=at)
        arguments = function.get("arguments", "{}")
        if not isinstance(arguments, str):
            raise InvalidRequest(f"{at}.function.arguments must be a JSON string", param=at)
        calls.append(ToolCall(c["id"], function["name"], arguments))
    return tuple(calls)


def _tools(raw) -> tuple[Tool, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) > MAX_TOOLS:
        raise InvalidRequest(f"tools must be an array of at most {MAX_TOOLS}", param="tools")
    tools = []
    for i, t in enumerate(raw):
        function = t.get("function") if isinstance(t, dict) else None
        if not isinstance(t, dict) or t.get("type") != "function" or not isinstance(function, dict):
            raise InvalidRequest("only function tools are supported", param=f"tools[{i}]")
        name, params = function.get("name"), function.get("parameters")
        if (
            not isinstance(name, str)
            or not name
            or (params is not None and not isinstance(params, dict))
        ):
            raise InvalidRequest("a tool needs a name and object parameters", param=f"tools[{i}]")
        description = (
            function.get("description") if isinstance(function.get("description"), str) else ""
        )
        strict = function.get("strict") if isinstance(function.get("strict"), bool) else None
        tools.append(Tool(name, description, params, strict))
    return tuple(tools)


def _tool_choice(raw) -> ToolChoice | None:
    if raw is None:
        return None
    if raw in ("auto", "none", "required"):
        return ToolChoice(raw)
    function = raw.get("function") if isinstance(raw, dict) else None
    if isinstance(function, dict) and isinstance(function.get("name"), str):
        return ToolChoice("required", function["name"])
    raise InvalidRequest(
        'tool_choice must be "auto", "none", "required" or a function', param="tool_choice"
    )


def _response_format(raw) -> tuple[JsonSchema | None, bool]:
    if raw is None:
        return None, False
    kind = raw.get("type") if isinstance(raw, dict) else None
    if kind == "text":
        return None, False
    if kind == "json_object":
        return None, True
    spec = raw.get("json_schema") if kind == "json_schema" else None
    if isinstance(spec, dict) and isinstance(spec.get("name"), str):
        schema = spec.get("schema") if isinstance(spec.get("schema"), dict) else {}
        strict = spec.get("strict") if isinstance(spec.get("strict"), bool) else None
        description = spec.get("description") if isinstance(spec.get("description"), str) else ""
        return JsonSchema(spec["name"], schema, strict, description), True
    raise InvalidRequest(
        "response_format must be text, json_object or json_schema with a name",
        param="response_format",
    )


def _stop(raw) -> tuple[str, ...]:
    if raw is None:
        return ()
    stops = [raw] if isinstance(raw, str) else raw
    if (
        not isinstance(stops, list)
        or len(stops) > MAX_STOP
        or not all(isinstance(s, str) and s for s in stops)
    ):
        raise InvalidRequest(f"stop must be a string or up to {MAX_STOP} strings", param="stop")
    return tuple(stops)


def _max_tokens(body: dict) -> int | None:
    # max_tokens is deprecated in favour of max_completion_tokens; the newer one wins.
    newer = integer(body, "max_completion_tokens", 1, 1_000_000)
    return newer if newer is not None else integer(body, "max_tokens", 1, 1_000_000)


def number(body: dict, name: str, low: float, high: float) -> float | None:
    """body[name]: a finite number in [low, high], or None; else InvalidRequest naming it."""
    value = body.get(name)
    if value is None:
        return None
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not low <= value <= high:
        raise InvalidRequest(f"{name} must be a number from {low} to {high}", param=name)
    return float(value)


def integer(body: dict, name: str, low: int, high: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidRequest(f"{name} must be an integer from {low} to {high}", param=name)
    return value


def boolean(body: dict, name: str) -> bool | None:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise InvalidRequest(f"{name} must be a boolean", param=name)
    return value


def string(body: dict, name: str, limit: int) -> str | None:
    value = body.get(name)
    if value is not None and not (isinstance(value, str) and len(value) <= limit):
        raise InvalidRequest(f"{name} must be a string of at most {limit} characters", param=name)
    return value
