"""What an agent key is charged for a streamed answer, however the stream ends.

A stream is charged on every way it ends: finished (the provider's usage), broken by the
provider after its first token, or cut by a caller who hung up (a key with a daily limit could
otherwise read and hang up for ever). Only a finished stream carries the provider's usage; any
other end is charged an estimate of what was generated: the prompt and the text and tool-call
pieces that reached the caller, at CHARS_PER_TOKEN characters a token (the figure
/v1/messages/count_tokens estimates with). A stream that never started (no provider produced a
first token) generated nothing and is charged nothing; it is still one of the key's requests.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from llmfallback.access import limits
from llmfallback.core.stream_events import Delta, StreamDone, StreamStart
from llmfallback.core.types import ChatRequest

from .anthropic_out import CHARS_PER_TOKEN, estimated_tokens


class StreamMeter:
    """Watches a stream's events and says what it cost."""

    def __init__(self, request: ChatRequest) -> None:
        self.request = request
        self.started = False
        self.chars = 0  # generated text and tool-call pieces relayed so far
        self.done: StreamDone | None = None

    def see(self, event) -> None:
        if isinstance(event, StreamStart):
            self.started = True
        elif isinstance(event, Delta):
            self.chars += len(event.content)
            self.chars += sum(len(c.arguments) + len(c.name or "") for c in event.tool_calls)
        elif isinstance(event, StreamDone):
            self.done = event

    def tokens(self) -> int:
        if self.done is not None and self.done.usage.total_tokens > 0:
            return self.done.usage.total_tokens
        if not self.started:
            return 0
        return estimated_tokens(self.request) + math.ceil(self.chars / CHARS_PER_TOKEN)


def charged(agent, request: ChatRequest, events: Iterator, clock) -> Iterator:
    """`events`, passed on, and charged to `agent` (with the request, for a key without limits)
    when they end, whichever way: closing this generator (a caller who left) closes the
    provider's connection at once, then charges what was generated."""
    meter = StreamMeter(request)
    try:
        for event in events:
            meter.see(event)
            yield event
    finally:
        getattr(events, "close", lambda: None)()
        limits.tokens_add(agent, meter.tokens(), now=clock())
