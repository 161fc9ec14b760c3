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
    )


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


def stream_events(obj: dict, error: dict | None = None) -> Reply:
    """The same answer as `chat.completion.chunk` SSE events, ending in [DONE] (or an error)."""
    base = {k: obj[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
    content = obj["choices"][0]["message"]["content"] if obj["choices"] else ""
    finish = obj["choices"][0]["finish_reason"] if obj["choices"] else "stop"
    chunks = [
        base | {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
        base | {"choices": [{"index": 0, "delta": {"content": content}}]},
    ]
    events = [json.dumps(c, separators=(",", ":")) for c in chunks]
    if error is not None:
        return sse(events + [json.dumps(error, separators=(",", ":"))])
    last = base | {"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}
    return sse(events + [json.dumps(last, separators=(",", ":")), "[DONE]"])


def deliver(req: SimRequest, obj: dict, headers=()) -> Reply:
    """Non-streaming JSON or SSE, as the request asked."""
    if req.stream:
        reply = stream_events(obj)
        reply.headers = list(headers)
        return reply
    return dense(obj, headers=headers)


def tool_calls(req: SimRequest, params) -> list[dict]:
    """One function call as OpenAI sends it: arguments are JSON text, the id is call_…."""
    name, args = common.tool_call_of(req.body.get("tools"), params, _function_name)
    call = {"name": name, "arguments": json.dumps(args, separators=(",", ":"))}
    return [{"id": "call_" + common.rand_id(24), "type": "function", "function": call}]


def _function_name(tool) -> str | None:
    function = tool.get("function") if isinstance(tool, dict) else None
    return function.get("name") if isinstance(function, dict) else None
