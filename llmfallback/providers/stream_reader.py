"""Reading one provider stream off the socket: SSE events through a wire-format parser, under
the attempt's budget until the first token and a stall limit after it."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import httpx

from llmfallback.core.errors import ProviderTimeout
from llmfallback.core.stream_events import Delta, StreamEnd, ToolCallDelta
from llmfallback.core.types import Completion

from .budget import Budget
from .sse_lines import SSEDecoder


def events(
    response: httpx.Response,
    budget: Budget,
    parser,
    clock: Callable[[], float],
    idle_s: float,
    stall_s: float,
) -> Iterator[Delta | StreamEnd]:
    """The parser's events as the body arrives. Before the first token the budget's deadline
    (the first-token timeout) and `idle_s` hold; after it only `stall_s` without a whole event:
    keep-alive comments and blank lines are never progress."""
    budget.start_body(idle=idle_s)
    decoder, started = SSEDecoder(), False
    chunks = response.iter_bytes()
    for chunk in chunks:
        now = clock()
        # A limit that ran out by this read is the provider's only if the read brought nothing
        # it waits for: the socket's own wait ends at the limit when the provider is silent
        # (transport.py), so bytes found after it came while this worker was busy elsewhere
        # (under load, one loop relays a thousand streams). Before the first token the
        # deadline waits for a token; the idle limit, for a whole event.
        limit = budget.expired(now)
        wants_token = not started and now >= budget.deadline
        whole = False
        for data in decoder.feed(chunk):
            whole = True
            budget.progressed(now)  # a whole event: data, not a keep-alive
            for event in parser.feed(data):
                if not started and isinstance(event, Delta) and event.is_token:
                    # The first token is in: from here on only a stall ends the stream.
                    started, budget.deadline, budget.idle = True, math.inf, stall_s
                if isinstance(event, StreamEnd):  # nothing after it belongs to the answer
                    _drain(chunks, budget, clock)
                    yield event
                    return
                yield event
                budget.progressed(clock())  # the caller's pace is not a stall
        if limit and not (started if wants_token else whole):
            raise ProviderTimeout(budget.timed_out())
    for data in decoder.close():
        yield from parser.feed(data)
    yield from parser.close()


# How long the end of a finished stream's body ([DONE] came; the chunked terminator has not)
# may take to arrive before the connection is given up instead of kept.
DRAIN_S = 0.05


def _drain(chunks: Iterator[bytes], budget: Budget, clock: Callable[[], float]) -> None:
    """Read what is left of a body whose answer is complete, briefly, and throw it away.

    The caller stops at the end of the answer and closes the response: closed before its body
    ended, the connection is closed too and the next stream pays a new connection (its TCP, and
    TLS, handshakes: ~1 ms of time to first token on loopback, far more to a real provider). A
    body that ends at once gives its connection back to the pool; one that does not is dropped
    after DRAIN_S, without delaying the answer by more.
    """
    budget.deadline = min(budget.deadline, clock() + DRAIN_S)
    budget.progressed(clock())
    budget.idle = DRAIN_S
    try:
        for _ in chunks:
            if budget.expired(clock()):
                return
    except (httpx.HTTPError, ProviderTimeout):
        return  # the answer is whole; only the connection is lost


def is_event_stream(response: httpx.Response) -> bool:
    content_type = response.headers.get("content-type", "").lower()
    return 200 <= response.status_code < 300 and content_type.startswith("text/event-stream")


def whole_answer(completion: Completion) -> Iterator[Delta | StreamEnd]:
    """A whole answer as stream events: its text, its calls (one piece each), its end."""
    calls = tuple(
        ToolCallDelta(n, c.id, c.name, c.arguments) for n, c in enumerate(completion.tool_calls)
    )
    if completion.content or calls:
        yield Delta(completion.content or "", calls)
    yield StreamEnd(completion.finish_reason, completion.usage, completion.model, completion.id)
