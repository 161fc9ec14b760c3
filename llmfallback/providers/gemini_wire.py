"""ChatRequest <-> Gemini's native generateContent JSON, shared by the adapter and streaming.

https://ai.google.dev/api/generate-content, https://ai.google.dev/api/caching#Tool,
https://ai.google.dev/gemini-api/docs/function-calling, .../docs/structured-output
"""

from __future__ import annotations

import json

from llmfallback.core.types import ChatRequest, Message, ToolCall, ToolChoice, Usage

from .openai_wire import new_call_id
from .shapes import MAX_TOKENS_COUNT, as_count, as_dict, as_list, as_str

_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}
# The fields of Gemini's Schema object (an OpenAPI 3.0 subset); anything else is rejected.
# https://ai.google.dev/api/caching#Schema
_SCHEMA_FIELDS = frozenset(
    {
        "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems",
        "minProperties", "maxProperties", "minLength", "maxLength", "pattern", "example",
        "default", "minimum", "maximum", "propertyOrdering", "required",
    }
)  # fmt: skip
_FORMATS = frozenset({"enum", "date-time", "int32", "int64", "float", "double"})
_MAX_REF_DEPTH = 16  # $ref chains deeper than this (or cyclic) are cut, not followed forever
_MAX_NODES = 5000  # schema nodes written per schema, refs inlined
_FINISH = {"STOP": "stop", "MAX_TOKENS": "length"}
# Gemini 3 refuses a replayed functionCall without the thoughtSignature it came with (a 400);
# OpenAI's tool_calls cannot carry one, so replayed calls get Google's documented stand-in.
# https://ai.google.dev/gemini-api/docs/thought-signatures
SKIP_SIGNATURE = "skip_thought_signature_validator"


def request_body(request: ChatRequest, *, model: str = "") -> dict:
    """The generateContent body for `request`; options left unset are not sent."""
    system = [m.content for m in request.messages if m.role == "system"]
    turns = contents(request.messages, signed=model.startswith("gemini-3"), prefill=request.prefill)
    body = {"contents": turns, "generationConfig": _generation(request)}
    if system:
        body["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
    if request.tools:
        declarations = [_declaration(t) for t in request.tools]
        body["tools"] = [{"functionDeclarations": declarations}]
    if request.tool_choice is not None:
        body["toolConfig"] = {"functionCallingConfig": _calling_config(request.tool_choice)}
    return body


def _generation(request: ChatRequest) -> dict:
    config = {
        "temperature": request.temperature,
        "maxOutputTokens": request.max_tokens,
        "topP": request.top_p,
        # Gemini's seed is an int32; OpenAI's is wider. Same seed in, same seed out.
        "seed": None if request.seed is None else request.seed & 0x7FFFFFFF,
        "presencePenalty": request.presence_penalty,
        "frequencyPenalty": request.frequency_penalty,
        "stopSequences": list(request.stop) or None,
    }
    if request.json_mode:
        config["responseMimeType"] = "application/json"
    if request.json_schema is not None:
        config["responseSchema"] = schema_out(request.json_schema.schema)
    return {k: v for k, v in config.items() if v is not None}


def contents(
    messages: tuple[Message, ...], *, signed: bool = False, prefill: str = ""
) -> list[dict]:
    """Turns as Gemini takes them: "user" and "model"; tool results become functionResponses."""
    names = {c.id: c.name for m in messages for c in m.tool_calls}
    out: list[dict] = []
    for m in messages:
        if m.role == "system":
            continue
        if m.role == "tool":
            part = _function_response(m, names)
            if out and out[-1].get("_tools"):  # one turn answers every call of the turn before
                out[-1]["parts"].append(part)
            else:
                out.append({"role": "user", "parts": [part], "_tools": True})
            continue
        parts = _parts(m, signed)
        out.append({"role": "model" if m.role == "assistant" else "user", "parts": parts})
    if prefill:
        out.append({"role": "model", "parts": [{"text": prefill}]})
    for turn in out:
        turn.pop("_tools", None)
    return out


def _parts(m: Message, signed: bool) -> list[dict]:
    texts = m.parts or ((m.content,) if m.content or not m.tool_calls else ())
    parts = [{"text": t} for t in texts]
    for c in m.tool_calls:
        part = {"functionCall": {"name": c.name, "args": _args(c.arguments)}}
        parts.append(part | ({"thoughtSignature": SKIP_SIGNATURE} if signed else {}))
    return parts


def _function_response(m: Message, names: dict[str, str]) -> dict:
    # "Use 'output' key to specify function output": https://ai.google.dev/api/caching#FunctionResponse
    name = names.get(m.tool_call_id or "") or m.name or "function"
    try:
        output = json.loads(m.content)
    except (ValueError, RecursionError):
        output = m.content
    return {"functionResponse": {"name": name, "response": {"output": output}}}


def _args(arguments: str) -> dict:
    try:
        value = json.loads(arguments)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def _declaration(tool) -> dict:
    declaration = {"name": tool.name}
    if tool.description:
        declaration["description"] = tool.description
    parameters = schema_out(tool.parameters) if tool.parameters else None
    # An object schema without properties is refused ("should be non-empty for OBJECT type").
    if parameters and not (parameters.get("type") == "object" and not parameters.get("properties")):
        declaration["parameters"] = parameters
    return declaration


def _calling_config(choice: ToolChoice) -> dict:
    if choice.function:
        return {"mode": "ANY", "allowedFunctionNames": [choice.function]}
    return {"mode": _MODES.get(choice.mode, "AUTO")}


def schema_out(schema) -> dict:
    """A JSON Schema as Gemini's Schema: $refs inlined, type lists as nullable, the rest dropped."""
    return _schema(schema, schema if isinstance(schema, dict) else {}, 0, [_MAX_NODES])


def _schema(schema, root: dict, depth: int, budget: list[int]) -> dict:
    # `budget` bounds the nodes written: refs fanning out level after level would otherwise
    # turn a small request body into an exponentially large one.
    budget[0] -= 1
    if not isinstance(schema, dict) or budget[0] < 0:
        return {}
    if "$ref" in schema:
        if depth >= _MAX_REF_DEPTH:
            return {}
        return _schema(_resolve(root, schema["$ref"]), root, depth + 1, budget)
    out = {k: v for k, v in schema.items() if k in _SCHEMA_FIELDS}
    _fix_type(out)
    if out.get("format") not in _FORMATS:
        out.pop("format", None)
    if "const" in schema:
        out["enum"] = [schema["const"]]
    if isinstance(schema.get("properties"), dict):
        out["properties"] = {
            k: _schema(v, root, depth, budget) for k, v in schema["properties"].items()
        }
    if isinstance(schema.get("items"), dict):
        out["items"] = _schema(schema["items"], root, depth, budget)
    variants = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(variants, list):
        out["anyOf"] = [_schema(v, root, depth, budget) for v in variants]
    all_of = schema.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1:  # pydantic wraps a described $ref so
        out = _schema(all_of[0], root, depth, budget) | out
    return out


def _fix_type(out: dict) -> None:
    """["string", "null"] (JSON Schema) is {"type": "string", "nullable": true} (OpenAPI 3.0)."""
    kind = out.get("type")
    if isinstance(kind, list):
        others = [t for t in kind if t != "null"]
        if len(others) < len(kind):
            out["nullable"] = True
        if others:
            out["type"] = others[0]
        else:
            out.pop("type")
    elif kind == "null":
        out.pop("type")
        out["nullable"] = True


def _resolve(root: dict, ref) -> dict:
    """#/$defs/Name or #/definitions/Name within the same schema; anything else resolves to {}."""
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return {}
    node = root
    for part in ref[2:].split("/"):
        node = as_dict(node).get(part.replace("~1", "/").replace("~0", "~"))
    return as_dict(node)


def function_calls(candidate: dict) -> tuple[ToolCall, ...]:
    """The candidate's functionCall parts as OpenAI tool calls (arguments as JSON text)."""
    calls = []
    for part in as_list(as_dict(candidate.get("content")).get("parts")):
        call = as_dict(as_dict(part).get("functionCall"))
        name = as_str(call.get("name"))
        if name:
            args = json.dumps(as_dict(call.get("args")), ensure_ascii=False)
            calls.append(ToolCall(as_str(call.get("id")) or new_call_id(), name, args))
    return tuple(calls)


def finish_reason(finish: str | None, *, called: bool, blocked: frozenset[str]) -> str | None:
    """Gemini's finishReason in OpenAI's words (a turn that called functions: "tool_calls")."""
    if called:
        return "tool_calls"
    if finish in blocked:
        return "content_filter"
    return _FINISH.get(finish or "", None if finish is None else "stop")


# Read by the adapter (gemini.py) and its stream reader (gemini_stream.py) alike.
BLOCKED = frozenset(
    {"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "RECITATION", "SPII", "IMAGE_SAFETY"}
)


def answer_text(candidate: dict) -> str | None:
    """The answer's text parts joined; None when there is no text part at all."""
    # Skip thought summaries; thoughtSignature rides on text parts.
    parts = as_list(as_dict(candidate.get("content")).get("parts"))
    texts = [
        p["text"]
        for p in parts
        if isinstance(p, dict) and isinstance(p.get("text"), str) and not p.get("thought")
    ]
    return "".join(texts) if texts else None


def usage_of(data: dict) -> Usage:
    meta = as_dict(data.get("usageMetadata"))
    prompt = as_count(meta.get("promptTokenCount"))
    # Thinking tokens are billed as output: count them as completion tokens.
    completion = as_count(meta.get("candidatesTokenCount")) + as_count(
        meta.get("thoughtsTokenCount")
    )
    completion = min(completion, MAX_TOKENS_COUNT)
    total = as_count(meta.get("totalTokenCount")) or min(prompt + completion, MAX_TOKENS_COUNT)
    return Usage(prompt, completion, total)
