"""What an agent key is charged for a streamed answer, however the stream ends.

A stream is charged on every way it ends: finished (the provider's usage), broken by the
provider after its first token, or cut by a caller who hung up (a key with a daily limit could
otherwise read and hang up for ever). Only a finished stream carries the provider's usage; any
other end is charged, for each provider that served a share of it, the usage that provider
reported so far when it reports one on every chunk (Gemini), else an estimate of what it
generated: the prompt at CHARS_PER_TOKEN characters a token (the figure
/v1/messages/count_tokens estimates with) plus its pieces of text and tool calls that reached
the caller, a token a piece or CHARS_PER_TOKEN characters a token, whichever is more.
OpenAI-compatible providers stream about one token a chunk (each `delta` is the next token:
https://cookbook.openai.com/examples/how_to_stream_completions), so counting pieces keeps short
tokens (" a", "\n") from being charged as a quarter each. A stream that never started (no
provider produced a first token) generated nothing and is charged nothing; it is still one of
the key's requests.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from llmfallback.access import limits
from llmfallback.core.stream_events import Delta, StreamDone, StreamResumed, StreamStart
from llmfallback.core.types import ChatRequest, Usage

from .anthropic_out import CHARS_PER_TOKEN, estimated_tokens


class Share:
    """One provider's share of a stream: the pieces it sent, and its own count if it gave one."""

    def __init__(self) -> None:
        self.pieces = 0
        self.chars = 0  # generated text and tool-call pieces relayed so far
        self.reported: Usage | None = None

    def see(self, delta: Delta) -> None:
        chars = len(delta.content)
        chars += sum(len(c.arguments) + len(c.name or "") for c in delta.tool_calls)
        self.pieces += chars > 0 or bool(delta.tool_calls)
        self.chars += chars
        if delta.usage is not None and delta.usage.total_tokens > 0:
            self.reported = delta.usage

    def tokens(self, prompt: int) -> int:
        if self.reported is not None:
            return self.reported.total_tokens
        return prompt + max(self.pieces, math.ceil(self.chars / CHARS_PER_TOKEN))


class StreamMeter:
    """Watches a stream's events and says what it cost."""

    def __init__(self, request: ChatRequest) -> None:
        self.request = request
        self.shares: list[Share] = []  # one per provider that served: the first, then rescuers
        self.done: StreamDone | None = None

    def see(self, event) -> None:
        if isinstance(event, StreamStart | StreamResumed):
            self.shares.append(Share())
        elif isinstance(event, Delta) and self.shares:
            self.shares[-1].see(event)
        elif isinstance(event, StreamDone):
            self.done = event

    def tokens(self) -> int:
        if self.done is not None and self.done.usage.total_tokens > 0:
            return self.done.usage.total_tokens
        if not self.shares:
            return 0
        prompt = estimated_tokens(self.request)  # each provider that served was sent it
        return sum(share.tokens(prompt) for share in self.shares)


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
