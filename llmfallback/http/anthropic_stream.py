"""The /v1/messages stream on the wire: Anthropic's named Server-Sent Events.

message_start, then per content block content_block_start, its deltas (text_delta, or
input_json_delta for a tool call's arguments) and content_block_stop, then message_delta (the
stop reason and usage) and message_stop. A stream that breaks after its first token ends with an
`error` event and no message_stop: the Anthropic SDK raises on it, so no client takes a cut
answer for a whole one. Built from the streaming engine's events, whatever they are: Deltas are
relayed as they come, StreamDone and StreamFailed end it, any other event is not the caller's.
https://docs.anthropic.com/en/docs/build-with-claude/streaming
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable

from llmfallback.core.stream_events import Delta, StreamDone, StreamFailed, StreamStart

from . import anthropic_out

logger = logging.getLogger(__name__)


def event(name: str, obj: dict) -> bytes:
    data = json.dumps({"type": name, **obj}, separators=(",", ":"), ensure_ascii=False)
    return f"event: {name}\ndata: {data}\n\n".encode()


class _Blocks:
    """The content blocks opened so far: a text block, or one block per tool call. A tool
    call's block stays open until text or the end comes: a provider may send a piece of an
    earlier call after a later one began, and no delta may follow its block's stop."""

    def __init__(self) -> None:
        self.count = 0
        self.open: list[int] = []  # block indexes not yet stopped, in order
        self.text: int | None = None  # the open text block's index
        self.tools: dict[int, int] = {}  # tool call index -> block index

    def start(self, block: dict) -> list[bytes]:
        self.open.append(self.count)
        self.count += 1
        return [event("content_block_start", {"index": self.count - 1, "content_block": block})]

    def stop(self) -> list[bytes]:
        stopped = [event("content_block_stop", {"index": i}) for i in self.open]
        self.open, self.text = [], None
        return stopped

    def delta(self, delta: Delta) -> list[bytes]:
        out: list[bytes] = []
        if delta.content:
            if self.text is None:
                out += self.stop() + self.start({"type": "text", "text": ""})
                self.text = self.count - 1
            piece = {"type": "text_delta", "text": delta.content}
            out.append(event("content_block_delta", {"index": self.text, "delta": piece}))
        for call in delta.tool_calls:
            if call.index not in self.tools or self.tools[call.index] not in self.open:
                if self.text is not None:
                    out += self.stop()
                block = {"type": "tool_use", "id": call.id or "", "name": call.name or ""}
                out += self.start(block | {"input": {}})
                self.tools[call.index] = self.count - 1
            if call.arguments:
                piece = {"type": "input_json_delta", "partial_json": call.arguments}
                index = self.tools[call.index]
                out.append(event("content_block_delta", {"index": index, "delta": piece}))
        return out


def message_events(
    start: StreamStart,
    events: Iterable,
    *,
    first_token_out: Callable[[], None] = lambda: None,
):
    """The SSE bytes of one streamed message, one bytes item per event (see sse.chunks for
    first_token_out, which releases the cork once the first token has been handed over)."""
    message = {
        "id": anthropic_out.message_id(),
        "type": "message",
        "role": "assistant",
        "model": f"{start.provider}/{start.model}",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 0, "output_tokens": 0},  # known at the end: message_delta
    }
    blocks, token_out = _Blocks(), False
    try:
        yield event("message_start", {"message": message})
        for item in events:
            if isinstance(item, Delta):
                yield from blocks.delta(item)
                if not token_out and item.is_token:
                    first_token_out()
                    token_out = True
            elif isinstance(item, StreamDone):
                yield from blocks.stop()
                yield event("message_delta", _ending(item))
                yield event("message_stop", {})
                return
            elif isinstance(item, StreamFailed):
                message = f"The provider {start.provider} failed after the stream began: {item.error.message}"
                yield _error(502, message[:1000])
                return
    except Exception:  # our own failure (a database outage...): still an explicit end
        logger.exception("Stream to the agent failed")
        yield _error(500, "The gateway failed mid-stream.")
        return
    finally:
        if not token_out:
            first_token_out()
        getattr(events, "close", lambda: None)()  # a caller who left closes the upstream now
    yield _error(502, "The stream ended unexpectedly.")


def _ending(done: StreamDone) -> dict:
    usage = anthropic_out.usage_out(done.usage)
    delta = {"stop_reason": anthropic_out.stop_reason(done.finish_reason), "stop_sequence": None}
    return {"delta": delta, "usage": usage}


def _error(status: int, message: str) -> bytes:
    body = anthropic_out.error_body(status, message, type_="api_error")
    return event("error", {"error": body["error"]})
