"""An Anthropic Messages body (POST /v1/messages), as Claude Code and the Anthropic SDKs send it,
read into the engine's ChatRequest.

`system`, text blocks, `tools` with `tool_use` / `tool_result` turns, `tool_choice`,
`stop_sequences`, `max_tokens`, sampling and `output_config.format` (a JSON schema) are honoured.
What no provider here can do (images, documents, server tools such as web search) is an
InvalidRequest naming the parameter, never silently dropped.
https://docs.anthropic.com/en/api/messages
"""

from __future__ import annotations

import json

from llmfallback.core.types import ChatRequest, JsonSchema, Message, Tool, ToolCall, ToolChoice
from llmfallback.providers.openai_input import MAX_MESSAGES, MAX_TOOLS, InvalidRequest, number

MAX_STOP = 4  # what the OpenAI-compatible providers behind the gateway accept
# Accepted and ignored: hints for Anthropic's own servers (prompt caching, capacity tiers, speed,
# region, diagnostics, server-side context editing, which Claude Code sends), and extended
# thinking, which no provider here exposes (the answer comes without thinking blocks).
IGNORED = frozenset({"metadata", "thinking", "cache_control", "service_tier", "speed"})
IGNORED |= {"inference_geo", "diagnostics", "context_management"}
KNOWN = IGNORED | frozenset(
    {"model", "messages", "max_tokens", "system", "stop_sequences", "stream", "temperature"}
    | {"top_p", "tools", "tool_choice", "output_config"}
)
IGNORED_BLOCKS = frozenset({"thinking", "redacted_thinking"})
UNSUPPORTED_BLOCKS = {
    "image": "images are not supported: no provider on this gateway's chains takes them",
    "document": "documents are not supported: no provider on this gateway's chains takes them",
}


def messages_request(body: dict) -> ChatRequest:
    """The ChatRequest `body` asks for; raises InvalidRequest for anything we cannot honour."""
    _check_fields(body)
    schema = _output_format(body.get("output_config"))
    choice, parallel = _tool_choice(body.get("tool_choice"))
    return ChatRequest(
        messages=_system(body.get("system")) + _messages(body.get("messages")),
        temperature=number(body, "temperature", 0, 1),
        max_tokens=_max_tokens(body.get("max_tokens"), required=True),
        json_mode=schema is not None,
        json_schema=schema,
        tools=_tools(body.get("tools")),
        tool_choice=choice,
        parallel_tool_calls=parallel,
        stop=_stop(body.get("stop_sequences")),
        top_p=number(body, "top_p", 0, 1),
        user=_user(body.get("metadata")),
    )


def count_request(body: dict) -> ChatRequest:
    """The request a count_tokens body describes (it has no max_tokens)."""
    return messages_request({"max_tokens": 1, **body, "model": body.get("model") or "-"})


def _check_fields(body: dict) -> None:
    unknown = sorted(set(body) - KNOWN)
    if unknown:
        name = unknown[0][:64]
        raise InvalidRequest(f"{name}: Extra inputs are not permitted", param=name)
    if not isinstance(body.get("model"), str) or not body["model"].strip():
        raise InvalidRequest("model: Field required", param="model")
    if body.get("stream") is not None and not isinstance(body["stream"], bool):
        raise InvalidRequest("stream: Input should be a valid boolean", param="stream")


def _system(raw) -> tuple[Message, ...]:
    if raw is None or raw == "":
        return ()
    if isinstance(raw, str):
        return (Message("system", raw),)
    return (Message("system", *_texts(raw, "system")),)


def _messages(raw) -> tuple[Message, ...]:
    if not isinstance(raw, list) or not raw:
        raise InvalidRequest("messages: must be a non-empty array", param="messages")
    if len(raw) > MAX_MESSAGES:
        raise InvalidRequest(f"messages: at most {MAX_MESSAGES}", param="messages")
    out: list[Message] = []
    for i, m in enumerate(raw):
        out += _message(m, f"messages.{i}")
    return tuple(out)


def _message(m, where: str) -> list[Message]:
    """One Anthropic turn as the engine's messages: tool results become `tool` messages."""
    role = m.get("role") if isinstance(m, dict) else None
    if role not in ("user", "assistant"):
        raise InvalidRequest(f"{where}.role: must be 'user' or 'assistant'", param=f"{where}.role")
    content = m.get("content")
    if isinstance(content, str):
        return [Message(role, content)]
    if not isinstance(content, list):
        raise InvalidRequest(f"{where}.content: must be a string or an array", param=where)
    blocks = [_block(b, f"{where}.content.{j}") for j, b in enumerate(content)]
    blocks = [b for b in blocks if b is not None]
    if role == "assistant":
        texts = [b["text"] for b in blocks if b["type"] == "text"]
        calls = tuple(_call(b) for b in blocks if b["type"] == "tool_use")
        return [Message("assistant", "".join(texts), tuple(texts), calls)]
    results = [_result(b) for b in blocks if b["type"] == "tool_result"]
    texts = [b["text"] for b in blocks if b["type"] == "text"]
    if any(b["type"] == "tool_use" for b in blocks):
        raise InvalidRequest(f"{where}: tool_use blocks belong to assistant turns", param=where)
    return results + ([Message("user", "".join(texts), tuple(texts))] if texts else [])


def _block(b, where: str) -> dict | None:
    kind = b.get("type") if isinstance(b, dict) else None
    if not isinstance(kind, str):  # a list or an object is unhashable: no set lookup for it
        kind = None
    if kind in IGNORED_BLOCKS:
        return None
    if kind in UNSUPPORTED_BLOCKS:
        raise InvalidRequest(f"{where}: {UNSUPPORTED_BLOCKS[kind]}", param=where)
    if kind == "text" and isinstance(b.get("text"), str):
        return b
    if kind == "tool_use" and isinstance(b.get("id"), str) and isinstance(b.get("name"), str):
        return b
    if kind == "tool_result" and isinstance(b.get("tool_use_id"), str):
        return b
    raise InvalidRequest(
        f"{where}: a {str(kind)[:40]!r} block is not supported here (text, tool_use and"
        " tool_result are)",
        param=where,
    )


def _call(b: dict) -> ToolCall:
    return ToolCall(b["id"], b["name"], json.dumps(b.get("input") or {}, ensure_ascii=False))


def _result(b: dict) -> Message:
    content = b.get("content")
    if content is None or isinstance(content, str):
        text = content or ""
    else:
        text = "".join(_texts(content, f"tool_result {b['tool_use_id'][:40]}")[1])
    if b.get("is_error"):
        text = f"Error: {text}"  # the providers' tool messages have no error flag
    return Message("tool", text, tool_call_id=b["tool_use_id"])


def _texts(raw, where: str) -> tuple[str, tuple[str, ...]]:
    """(joined text, parts) of an array of text blocks."""
    if not isinstance(raw, list):
        raise InvalidRequest(f"{where}: must be a string or an array of text blocks", param=where)
    parts = []
    for j, b in enumerate(raw):
        block = _block(b, f"{where}.{j}")
        if block is not None and block["type"] != "text":
            raise InvalidRequest(f"{where}.{j}: only text blocks are allowed here", param=where)
        if block is not None:
            parts.append(block["text"])
    return "".join(parts), tuple(parts)


def _tools(raw) -> tuple[Tool, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) > MAX_TOOLS:
        raise InvalidRequest(f"tools: must be an array of at most {MAX_TOOLS}", param="tools")
    tools = []
    for i, t in enumerate(raw):
        where = f"tools.{i}"
        if not isinstance(t, dict) or t.get("type", "custom") != "custom":
            kind = t.get("type") if isinstance(t, dict) else None
            message = f"{where}: server tool {str(kind)[:60]!r} is not supported; only custom tools"
            raise InvalidRequest(message, param=where)
        name, schema = t.get("name"), t.get("input_schema")
        if not isinstance(name, str) or not name or not isinstance(schema, dict):
            raise InvalidRequest(f"{where}: a tool needs a name and an input_schema", param=where)
        description = t.get("description") if isinstance(t.get("description"), str) else ""
        strict = t.get("strict") if isinstance(t.get("strict"), bool) else None
        tools.append(Tool(name, description, schema, strict))
    return tuple(tools)


def _tool_choice(raw) -> tuple[ToolChoice | None, bool | None]:
    """(the engine's tool choice, parallel_tool_calls) for Anthropic's tool_choice."""
    if raw is None:
        return None, None
    kind = raw.get("type") if isinstance(raw, dict) else None
    parallel = False if raw.get("disable_parallel_tool_use") is True else None
    if kind in ("auto", "none"):
        return ToolChoice(kind), parallel
    if kind == "any":
        return ToolChoice("required"), parallel
    if kind == "tool" and isinstance(raw.get("name"), str):
        return ToolChoice("required", raw["name"]), parallel
    message = "tool_choice: type must be auto, any, tool (with a name) or none"
    raise InvalidRequest(message, param="tool_choice")


def _output_format(raw) -> JsonSchema | None:
    """output_config.format: a JSON schema the answer must match (`effort` is a hint: ignored)."""
    if raw is None or not isinstance(raw, dict) or raw.get("format") is None:
        if raw is not None and not isinstance(raw, dict):
            raise InvalidRequest("output_config: must be an object", param="output_config")
        return None
    fmt = raw["format"]
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        raise InvalidRequest("output_config.format: only json_schema", param="output_config")
    if not isinstance(fmt.get("schema"), dict):
        raise InvalidRequest("output_config.format.schema: Field required", param="output_config")
    return JsonSchema("output", fmt["schema"])


def _stop(raw) -> tuple[str, ...]:
    if raw is None:
        return ()
    ok = isinstance(raw, list) and all(isinstance(s, str) and s for s in raw)
    if not ok or len(raw) > MAX_STOP:
        message = f"stop_sequences: at most {MAX_STOP} non-empty strings"
        raise InvalidRequest(message, param="stop_sequences")
    return tuple(raw)


def _max_tokens(value, *, required: bool) -> int | None:
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 1_000_000:
        raise InvalidRequest("max_tokens: must be an integer from 1", param="max_tokens")
    return value


def _user(metadata) -> str | None:
    user = metadata.get("user_id") if isinstance(metadata, dict) else None
    return user[:256] if isinstance(user, str) else None
