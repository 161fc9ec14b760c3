"""What /v1 answers, in OpenAI's shapes: chat.completion, model lists and error envelopes.

Plain dicts built from core objects, so a streaming path can reuse them chunk by chunk.
https://platform.openai.com/docs/api-reference/chat/object
"""

from __future__ import annotations

import math
import time
import uuid

from llmfallback.core.types import Attempt, ChatResult, ToolCall
from llmfallback.ops import cache

FINISH_REASONS = frozenset({"stop", "length", "tool_calls", "content_filter"})
# Error types by status, as OpenAI's own API sends them.
ERROR_TYPES = {429: "rate_limit_error", 401: "authentication_error", 403: "permission_error"}


def completion_body(result: ChatResult, *, now=time.time) -> dict:
    """A `chat.completion` for `result`; `model` names who served it as provider/model."""
    completion = result.completion
    calls = completion.tool_calls if completion else ()
    message = {
        "role": "assistant",
        "content": result.content if result.content or not calls else None,
    }
    message["refusal"] = None
    if calls:
        message["tool_calls"] = [tool_call_out(c) for c in calls]
    return {
        "id": (completion.id if completion and completion.id else "")
        or f"chatcmpl-d8{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": (completion.created if completion else None) or int(now()),
        "model": f"{result.provider}/{result.model}",
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason(result),
            }
        ],
        "usage": {
            "prompt_tokens": result.usage.prompt_tokens,
            "completion_tokens": result.usage.completion_tokens,
            "total_tokens": result.usage.total_tokens,
        },
        "x_d8": {"provider": result.provider, "attempts": attempts_out(result.attempts)}
        | cache.cached_out(result),
    }


def tool_call_out(call: ToolCall) -> dict:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }


def finish_reason(result: ChatResult) -> str:
    completion = result.completion
    if completion and completion.tool_calls:
        return "tool_calls"
    finish = completion.finish_reason if completion else None
    return finish if finish in FINISH_REASONS else "stop"


PASSED_BY = ("unsupported", "cooldown")


def attempts_out(attempts: tuple[Attempt, ...]) -> list[dict]:
    """Every call made (and every provider skipped), with why; key labels only, never keys."""
    return [
        {
            "provider": a.provider,
            "key": a.key,
            "error_type": a.error_type,
            "status": a.status,
            "latency_ms": round(a.latency_ms, 1),
            # why a provider was passed by without a call
            **({"reason": a.message[:300]} if a.error_type in PASSED_BY else {}),
        }
        for a in attempts
    ]


def error_body(status: int, message: str, *, param=None, code=None, type_=None) -> dict:
    """OpenAI's error envelope; the SDK raises the exception class mapped to `status`."""
    kind = (
        type_
        or ERROR_TYPES.get(status)
        or ("server_error" if status >= 500 else "invalid_request_error")
    )
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def retry_headers(seconds: float | None) -> dict[str, str]:
    """Retry-After (whole seconds, at least 1) and retry-after-ms, which the openai SDK reads first."""
    if seconds is None:
        return {}
    return {
        "Retry-After": str(max(1, math.ceil(seconds))),
        "retry-after-ms": str(max(1, math.ceil(seconds * 1000))),
    }


def models_body(models: list[dict]) -> dict:
    return {"object": "list", "data": [model_out(m) for m in models]}


def model_out(model: dict) -> dict:
    # No creation date is known for a route: 0 rather than a made-up moment.
    return {"id": model["id"], "object": "model", "created": 0, "owned_by": model["owned_by"]}
