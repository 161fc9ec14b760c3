"""The OpenAI `chat.completion` shape that Groq, DeepSeek and local servers all speak."""

import json
import time

from . import common
from .book import SimRequest
from .reply import Reply, dense, sse

ROLES = {"system", "user", "assistant", "tool", "developer", "function"}


NO_CHOICES = object()  # pass as content to get "choices": []


def bearer(headers, query) -> str | None:
    auth = headers.get("Authorization") or ""
    if not auth.lower().startswith("bearer "):
        return None
    return auth[7:].strip() or None


def parse(provider: str, body: dict, key: str | None) -> SimRequest:
    messages = body.get("messages") if isinstance(body.get("messages"), list) else []
    fmt = body.get("response_format") or {}
    return SimRequest(
        provider=provider,
        model=str(body.get("model") or ""),
        body=body,
        key=key,
        prompt=_last_user_text(messages),
        json_mode=isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema"),
        stream=bool(body.get("stream")),
        prefill=_prefill(messages),
    )


def _prefill(messages: list) -> str:
    last = messages[-1] if messages else None
    if isinstance(last, dict) and last.get("role") == "assistant":
        content = last.get("content")
        return content if isinstance(content, str) else ""
    return ""


def _last_user_text(messages: list) -> str:
    for m in reversed(messages):
        if isinstance(m, dict) and m.get("role") == "user":
            content = m.get("content")
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            return str(content or "")
    return ""


def bad_role_index(body: dict) -> int | None:
    """Index of the first message whose role is not one OpenAI accepts."""
    for i, m in enumerate(body.get("messages") or []):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            return i
    return None


def completion(
    req: SimRequest, content, finish="stop", id_="", extra=None, usage_extra=None, tool_calls=None
):
    """A `chat.completion` object; `content=NO_CHOICES` gives choices []; `tool_calls` a call."""
    prompt_tokens = common.token_count(req.prompt)
    completion_tokens = 0 if content is NO_CHOICES else common.token_count(content or "call")
    choices = []
    if content is not NO_CHOICES:
        message = {"role": "assistant", "content": content}
        if tool_calls:
            message["tool_calls"] = tool_calls
        choices = [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}]
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        **(usage_extra or {}),
    }
    obj = {
        "id": id_,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": req.model,
        "choices": choices,
        "usage": usage,
    }
    return obj | (extra or {})


def stream_events(
    obj: dict, error: dict | None = None, *, include_usage=False, groq=False, before_error=""
) -> Reply:
    """The answer as `chat.completion.chunk` events: a role chunk, the text a word at a time or
    the tool calls (id and name first, then argument fragments), a finish chunk, the usage chunk
    when include_usage asked, then [DONE]. With `error`: `before_error` text, then the error
    object inside the 200 stream (Groq) and nothing more. `groq`: usage rides on the finish chunk,
    in `usage` and `x_groq.usage`, as vercel/ai's groq-text.chunks.txt captured it.
    """
    base = {k: obj[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
    base |= {k: obj[k] for k in ("system_fingerprint",) if k in obj}
    message = obj["choices"][0]["message"] if obj["choices"] else {"content": ""}
    finish = obj["choices"][0]["finish_reason"] if obj["choices"] else "stop"

    def chunk(delta, finish_reason=None, **extra):
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return _compact(base | {"choices": [choice]} | extra)

    events = [chunk({"role": "assistant", "content": ""})]
    if error is not None:
        events += [chunk({"content": piece}) for piece in words(before_error)]
        return sse(events + [_compact(error)])
    pieces = words(message.get("content") or "")
    events += [chunk({"content": piece}) for piece in pieces]
    tokens = [0] + [len(piece.split()) for piece in pieces]
    for n, call in enumerate(message.get("tool_calls") or []):
        events += [chunk({"tool_calls": [piece]}) for piece in call_pieces(n, call)]
    usage = obj.get("usage")
    if groq:
        events.append(chunk({}, finish, x_groq={"id": "req_sim", "usage": usage}, usage=usage))
    else:
        events.append(chunk({}, finish))
    if include_usage and not groq:
        events.append(_compact(base | {"choices": [], "usage": usage}))
    prompt, completion = usage_pair(usage)
    tokens += [0] * (len(events) - len(tokens))
    tokens[-1] += max(0, completion - sum(tokens))  # what the words leave over (a tool call's)
    reply = sse(events + ["[DONE]"], tokens=tokens)
    reply.usage = (prompt, completion)
    return reply


def usage_pair(usage) -> tuple[int, int]:
    """(prompt, completion) tokens of an OpenAI `usage` object."""
    usage = usage if isinstance(usage, dict) else {}
    return usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)


def words(text: str) -> list[str]:
    """Text in the small pieces a model streams: each word with the space before it."""
    if not text:
        return []
    pieces = text.split(" ")
    return [pieces[0]] + [" " + p for p in pieces[1:]]


def call_pieces(index: int, call: dict) -> list[dict]:
    """OpenAI's way: the first piece names the call, later ones carry arguments in fragments."""
    arguments = call["function"]["arguments"]
    first = {"index": index, "id": call["id"], "type": "function"}
    first["function"] = {"name": call["function"]["name"], "arguments": ""}
    half = len(arguments) // 2
    rest = [arguments[:half], arguments[half:]]
    return [first] + [{"index": index, "function": {"arguments": a}} for a in rest if a]


def _compact(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def deliver(req: SimRequest, obj: dict, headers=()) -> Reply:
    """Non-streaming JSON or SSE, as the request asked."""
    if req.stream:
        options = req.body.get("stream_options")
        usage = isinstance(options, dict) and options.get("include_usage") is True
        reply = stream_events(obj, include_usage=usage, groq=req.provider == "groq")
        reply.headers = list(headers)
        if req.provider == "deepseek":
            # DeepSeek's stream opens with SSE comments while the request waits in its queue.
            # https://api-docs.deepseek.com/quick_start/rate_limit
            reply.events = [b": keep-alive\n\n", b"\n"] + reply.events
        return reply
    reply = dense(obj, headers=headers)
    reply.usage = usage_pair(obj.get("usage"))
    return reply


def tool_calls(req: SimRequest, params) -> list[dict]:
    """One function call as OpenAI sends it: arguments are JSON text, the id is call_…."""
    name, args = common.tool_call_of(req.body.get("tools"), params, _function_name)
    call = {"name": name, "arguments": json.dumps(args, separators=(",", ":"))}
    return [{"id": "call_" + common.rand_id(24), "type": "function", "function": call}]


def _function_name(tool) -> str | None:
    function = tool.get("function") if isinstance(tool, dict) else None
    return function.get("name") if isinstance(function, dict) else None
