"""Streams that take their time: a queue's keep-alives before the first event, a stall midway.

A Reply's `events` may hold pauses (seconds, as floats) between the byte chunks; the server
waits them out (and notices a client that left) before writing the next chunk.
"""

from .reply import Reply

KEEPALIVE = b": keep-alive\n\n"  # DeepSeek's SSE comment while a request waits
MAX_PAUSE_S = 120.0


def queued(reply: Reply, params: dict) -> Reply:
    """Keep-alive comments every interval_s for duration_s before the stream starts."""
    reply.events = _keepalives(params) + list(reply.events or [])
    return reply


def stalled(reply: Reply, params: dict) -> Reply:
    """After `after` data events (default 2: the role chunk and the first token), keep-alive
    comments every interval_s for duration_s; then the rest (then="rest") or a closed
    connection (then="close"), as a provider that stops generating mid-answer."""
    events = [e for e in reply.events or [] if e.startswith(b"data:")]
    after = int(params.get("after", 2))
    closes = params.get("then", "rest") == "close"
    reply.events = events[:after] + _keepalives(params) + ([] if closes else events[after:])
    reply.truncate = closes  # no closing chunk: the connection just drops
    return reply


def malformed(reply: Reply, params: dict) -> Reply:
    """The `at`-th data event (default 3) replaced by one cut mid-JSON, as a proxy that
    rewrites bodies sends; the rest of the stream follows unchanged."""
    at = int(params.get("at", 3))
    events = list(reply.events or [])
    data = [i for i, e in enumerate(events) if isinstance(e, bytes) and e.startswith(b"data:")]
    if at < len(data):
        i = data[at]
        events[i] = events[i][: max(8, len(events[i]) // 2)].rstrip(b"\n") + b"\n\n"
    reply.events = events
    return reply


def spread(reply: Reply, seconds: float) -> Reply:
    """A stream's data events paced evenly over `seconds`, as a model generates its tokens
    (the capacity benchmark's streams: bench/capacity.py). Plain answers are left as they are."""
    data = [e for e in reply.events or [] if not isinstance(e, float)]
    if seconds <= 0 or len(data) < 2:
        return reply
    pause = min(seconds / (len(data) - 1), MAX_PAUSE_S)
    reply.events = [data[0]]
    for event in data[1:]:
        reply.events += [pause, event]
    return reply


def _keepalives(params: dict) -> list:
    interval = max(float(params.get("interval_s", 0.5)), 0.01)
    duration = min(float(params.get("duration_s", 1.0)), MAX_PAUSE_S)
    out: list = []
    for _ in range(max(1, round(duration / interval))):
        out += [interval, KEEPALIVE]
    return out
