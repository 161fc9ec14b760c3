"""The /v1 stream on the wire: OpenAI's chat.completion.chunk Server-Sent Events.

A role chunk, content and tool-call chunks, a chunk with the finish_reason, the usage chunk when
stream_options.include_usage asked (empty choices), then `data: [DONE]`. The finish chunk carries
`x_d8`: which providers served which part of the text (`served_by`) and every attempt. Where a
provider broke mid-answer and another continued it, the chunks after that point name the new
provider in `model`. A stream no provider could continue ends with `data: {"error": {...}}` and
no [DONE]: the openai SDK raises APIError on it, and no client can take the cut answer for a
whole one.
https://platform.openai.com/docs/api-reference/chat-streaming/streaming
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable

from django.http import StreamingHttpResponse

from llmfallback.core.errors import ProviderError
from llmfallback.core.stream_events import (
    Delta,
    StreamDone,
    StreamFailed,
    StreamResumed,
    StreamStart,
)
from llmfallback.core.types import Usage

from . import openai_out

logger = logging.getLogger(__name__)
DONE = b"data: [DONE]\n\n"
HEADERS = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # nginx: pass each event on at once, never buffer the stream
}


def response(items: Iterable[bytes], provider: str) -> StreamingHttpResponse:
    """A stream's response. Marked `relay_stream`: under gunicorn's CapacityWorker its chunks
    after the first are relayed by the worker's event loop (d8site/relay.py), which only works
    because every wait of such a stream is a provider read through providers/transport.py."""
    answer = StreamingHttpResponse(
        items, content_type="text/event-stream", headers=HEADERS | {"x-d8-provider": provider}
    )
    answer.relay_stream = True
    return answer


def event(obj: dict) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode() + b"\n\n"


def chunks(
    start: StreamStart,
    events: Iterable,
    *,
    include_usage: bool,
    first_token_out: Callable[[], None] = lambda: None,
    now=time.time,
):
    """The SSE bytes of one stream: one bytes item per event, for the server to flush each.

    first_token_out is called once the chunk with the first token has been taken by the server
    (when it asks for the next item), and at the stream's end if not before: wire.FirstTokenCork
    sends the head, the role chunk and that token as one packet.
    """
    base = {
        "id": f"chatcmpl-d8{uuid.uuid4().hex}",
        "object": "chat.completion.chunk",
        "created": int(now()),
        "model": f"{start.provider}/{start.model}",
        "system_fingerprint": None,
    }
    if include_usage:
        base["usage"] = None  # every chunk but the last says so, as OpenAI's do

    def chunk(delta: dict, finish: str | None = None, **extra) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return event(base | {"choices": [choice]} | extra)

    framing = DeltaFraming(base)
    token_out = False
    try:
        yield chunk({"role": "assistant", "content": "", "refusal": None})
        for item in events:
            if isinstance(item, Delta):
                yield framing.event(delta_out(item))
                if not token_out and item.is_token:
                    first_token_out()
                    token_out = True
            elif isinstance(item, StreamResumed):
                base["model"] = f"{item.provider}/{item.model}"
            elif isinstance(item, StreamDone):
                yield chunk({}, item.finish_reason, x_d8=x_d8_out(item))
                if include_usage:
                    yield event(base | {"choices": [], "usage": usage_out(item.usage)})
                yield DONE
                return
            elif isinstance(item, StreamFailed):
                yield error_event(item.error, start.provider)
                return
    except Exception:  # our own failure (a database outage...): still an explicit end
        logger.exception("Stream to the agent failed")
        yield event(openai_out.error_body(500, "The gateway failed mid-stream.", code="internal"))
        return
    finally:
        if not token_out:
            first_token_out()
        getattr(events, "close", lambda: None)()  # a caller who left closes the upstream now
    # The events stopped without an end: say so rather than leave a stream that looks whole.
    yield event(openai_out.error_body(502, "The stream ended unexpectedly.", code="stream_ended"))


class DeltaFraming:
    """A delta's chunk, as `event(base | {"choices": [choice]})` writes it, byte for byte, with
    the stream's fields encoded once rather than for every token: only the delta is encoded
    per chunk (a model change, where another provider took over, encodes them again)."""

    __slots__ = ("_base", "_head", "_model")

    def __init__(self, base: dict) -> None:
        self._base, self._model, self._head = base, None, ""

    def event(self, delta: dict) -> bytes:
        if self._base["model"] != self._model:
            self._model = self._base["model"]
            fields = json.dumps(self._base, separators=(",", ":"), ensure_ascii=False)
            self._head = fields[:-1] + ',"choices":[{"index":0,"delta":'
        encoded = json.dumps(delta, separators=(",", ":"), ensure_ascii=False)
        text = self._head + encoded + ',"logprobs":null,"finish_reason":null}]}'
        return b"data: " + text.encode() + b"\n\n"


def x_d8_out(done: StreamDone) -> dict:
    """Who served which part of the text (character offsets), and every attempt made."""
    served = [
        {
            "provider": s.provider,
            "model": s.model,
            "key": s.key,
            "mode": s.mode,
            "start": s.start,
            "chars": s.chars,
        }
        for s in done.served
    ]
    return {"served_by": served, "attempts": openai_out.attempts_out(done.attempts)}


def delta_out(delta: Delta) -> dict:
    out: dict = {}
    if delta.content:
        out["content"] = delta.content
    if delta.tool_calls:
        out["tool_calls"] = [_call_piece(c) for c in delta.tool_calls]
    return out


def _call_piece(piece) -> dict:
    out: dict = {"index": piece.index}
    if piece.id:
        out |= {"id": piece.id, "type": "function"}
    function = {"arguments": piece.arguments}
    if piece.name:
        function = {"name": piece.name} | function
    return out | {"function": function}


def usage_out(usage: Usage) -> dict:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


def error_event(error: ProviderError, provider: str) -> bytes:
    """OpenAI's error envelope as the stream's last event (the message is already redacted)."""
    message = f"The provider {provider} failed after the stream began: {error.message}"[:1000]
    return event(openai_out.error_body(502, message, code=f"provider_{error.kind.value}"))
