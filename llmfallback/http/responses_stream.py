"""The /v1/responses stream on the wire: the Responses API's named, numbered events.

response.created, response.in_progress, then per output item output_item.added, its pieces
(content_part.added, output_text.delta ... output_text.done, content_part.done for a message;
function_call_arguments.delta ... .done for a function call) and output_item.done, then
response.completed (or response.incomplete). Nothing is sent before the first token, so a
fallback happens before the first output event. A stream that breaks after it ends with an
`error` event and response.failed: never a restart that would repeat output. Built from the
streaming engine's events generically: Deltas are relayed as they come, StreamDone and
StreamFailed end it, any other event is not the caller's.
https://platform.openai.com/docs/api-reference/responses-streaming
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable

from llmfallback.core.stream_events import Delta, StreamDone, StreamFailed, StreamStart
from llmfallback.core.types import ToolCall

from . import responses_out as out

logger = logging.getLogger(__name__)


class _Writer:
    """Numbers events and keeps the output items: one message at a time, one item per call."""

    def __init__(self) -> None:
        self.sequence = 0
        self.items: list[dict] = []  # every item added, in output order
        self.open: list[int] = []  # output indexes not yet done
        self.calls: dict[int, int] = {}  # the engine's tool-call index -> output index

    def event(self, kind: str, /, **fields) -> bytes:
        data = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        encoded = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        return f"event: {kind}\ndata: {encoded}\n\n".encode()

    def delta(self, delta: Delta) -> list[bytes]:
        sent: list[bytes] = []
        if delta.content:
            if not self.open or self.items[self.open[-1]]["type"] != "message":
                sent += self.close() + self._add(out.message_item(out.new_id("msg"), None))
                sent.append(self._text_part_added(self.open[-1]))
            index = self.open[-1]
            self.items[index]["content"][0]["text"] += delta.content
            sent.append(self._text_delta(index, delta.content))
        for piece in delta.tool_calls:
            if self.calls.get(piece.index) not in self.open:  # new, or its item is done
                if self.open and self.items[self.open[-1]]["type"] == "message":
                    sent += self.close()
                call = ToolCall(piece.id or "", piece.name or "", "")
                sent += self._add(out.function_call_item(out.new_id("fc"), call))
                self.calls[piece.index] = self.open[-1]
            if piece.arguments:
                index = self.calls[piece.index]
                self.items[index]["arguments"] += piece.arguments
                item_id = self.items[index]["id"]
                sent.append(
                    self.event(
                        "response.function_call_arguments.delta",
                        item_id=item_id,
                        output_index=index,
                        delta=piece.arguments,
                    )
                )
        return sent

    def close(self) -> list[bytes]:
        """Finish every open item, in output order."""
        sent = []
        for index in self.open:
            sent += self._done(index)
        self.open = []
        return sent

    def _add(self, item: dict) -> list[bytes]:
        item["status"] = "in_progress"
        self.items.append(item)
        self.open.append(len(self.items) - 1)
        return [
            self.event("response.output_item.added", output_index=len(self.items) - 1, item=item)
        ]

    def _text_part_added(self, index: int) -> bytes:
        self.items[index]["content"] = [out.text_part("")]
        return self.event(
            "response.content_part.added",
            item_id=self.items[index]["id"],
            output_index=index,
            content_index=0,
            part=out.text_part(""),
        )

    def _text_delta(self, index: int, text: str) -> bytes:
        item_id = self.items[index]["id"]
        return self.event(
            "response.output_text.delta",
            item_id=item_id,
            output_index=index,
            content_index=0,
            delta=text,
            logprobs=[],
        )

    def _done(self, index: int) -> list[bytes]:
        item = self.items[index]
        item["status"] = "completed"
        where = {"item_id": item["id"], "output_index": index}
        if item["type"] == "message":
            text = item["content"][0]["text"]
            sent = [
                self.event(
                    "response.output_text.done", **where, content_index=0, text=text, logprobs=[]
                ),
                self.event(
                    "response.content_part.done", **where, content_index=0, part=out.text_part(text)
                ),
            ]
        else:
            sent = [
                self.event(
                    "response.function_call_arguments.done",
                    **where,
                    name=item["name"],
                    arguments=item["arguments"],
                )
            ]
        return sent + [self.event("response.output_item.done", output_index=index, item=item)]


def response_events(
    start: StreamStart,
    events: Iterable,
    body: dict,
    *,
    first_token_out: Callable[[], None] = lambda: None,
):
    """The SSE bytes of one streamed response, one bytes item per event (see sse.chunks for
    first_token_out, which releases the cork once the first token has been handed over)."""
    model = f"{start.provider}/{start.model}"
    response = out.envelope(body, response_id=out.new_id("resp"), model=model, status="in_progress")
    writer, token_out = _Writer(), False
    try:
        yield writer.event("response.created", response=response)
        yield writer.event("response.in_progress", response=response)
        for item in events:
            if isinstance(item, Delta):
                yield from writer.delta(item)
                if not token_out and item.is_token:
                    first_token_out()
                    token_out = True
            elif isinstance(item, StreamDone):
                yield from writer.close()
                done = response | out.finished(item.finish_reason, writer.items, item.usage)
                yield writer.event(f"response.{done['status']}", response=done)
                return
            elif isinstance(item, StreamFailed):
                message = f"The provider {start.provider} failed after the stream began: {item.error.message}"
                yield from _failed(
                    writer, response, message[:1000], f"provider_{item.error.kind.value}"
                )
                return
    except Exception:  # our own failure (a database outage...): still an explicit end
        logger.exception("Stream to the agent failed")
        yield from _failed(writer, response, "The gateway failed mid-stream.", "internal")
        return
    finally:
        if not token_out:
            first_token_out()
        getattr(events, "close", lambda: None)()  # a caller who left closes the upstream now
    yield from _failed(writer, response, "The stream ended unexpectedly.", "stream_ended")


def _failed(writer: _Writer, response: dict, message: str, code: str):
    """An `error` event, then response.failed with the output that did go out."""
    yield writer.event("error", code=code, message=message, param=None)
    failed = response | {
        "status": "failed",
        "error": {"code": "server_error", "message": message},
        "output": [i for i in writer.items if i["status"] == "completed"],
    }
    yield writer.event("response.failed", response=failed)
