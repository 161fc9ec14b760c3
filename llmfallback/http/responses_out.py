"""What /v1/responses answers, in OpenAI's Responses shapes: the response object and its items.

Plain dicts built from core objects, so the stream (responses_stream) builds the same items
piece by piece. https://platform.openai.com/docs/api-reference/responses/object
"""

from __future__ import annotations

import time
import uuid

from llmfallback.core.types import ChatResult, ToolCall, Usage

from . import openai_out

# Finish reasons that leave a response incomplete, and the reason Responses gives for each.
INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def new_id(prefix: str) -> str:
    return f"{prefix}_d8{uuid.uuid4().hex}"


def envelope(body: dict, *, response_id: str, model: str, status: str, now=time.time) -> dict:
    """The response object around its output: the request's settings as OpenAI echoes them.
    `store` is always false: nothing is kept, so no later request can refer to this one."""
    fmt = (body.get("text") or {}).get("format") if isinstance(body.get("text"), dict) else None
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(now()),
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "metadata": body.get("metadata") or {},
        "model": model,
        "output": [],
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": False,
        "temperature": body.get("temperature"),
        "text": {"format": fmt or {"type": "text"}},
        "tool_choice": body.get("tool_choice") or "auto",
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p"),
        "truncation": "disabled",
        "usage": None,
        "user": body.get("user"),
    }


def response_body(result: ChatResult, body: dict) -> dict:
    """The whole response for `result`; `model` names who served it as provider/model."""
    completion = result.completion
    calls = completion.tool_calls if completion else ()
    out = envelope(
        body, response_id=new_id("resp"), model=f"{result.provider}/{result.model}", status=""
    )
    output = [message_item(new_id("msg"), result.content)] if result.content or not calls else []
    output += [function_call_item(new_id("fc"), c) for c in calls]
    out |= finished(openai_out.finish_reason(result), output, result.usage)
    out["x_d8"] = {
        "provider": result.provider,
        "attempts": openai_out.attempts_out(result.attempts),
    }
    return out


def finished(finish: str | None, output: list[dict], usage: Usage) -> dict:
    """The fields a finished response changes: its status (and why it is incomplete), output,
    usage."""
    reason = INCOMPLETE.get(finish or "")
    return {
        "status": "incomplete" if reason else "completed",
        "incomplete_details": {"reason": reason} if reason else None,
        "output": output,
        "usage": usage_out(usage),
    }


def message_item(item_id: str, text: str | None, *, status: str = "completed") -> dict:
    content = [text_part(text)] if text is not None else []
    return {
        "type": "message",
        "id": item_id,
        "status": status,
        "role": "assistant",
        "content": content,
    }


def text_part(text: str) -> dict:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def function_call_item(item_id: str, call: ToolCall, *, status: str = "completed") -> dict:
    return {
        "type": "function_call",
        "id": item_id,
        "call_id": call.id,
        "name": call.name,
        "arguments": call.arguments,
        "status": status,
    }


def usage_out(usage: Usage) -> dict:
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage.total_tokens,
    }
