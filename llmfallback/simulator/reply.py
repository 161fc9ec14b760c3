"""What a simulated provider sends back: status, headers, body and how to deliver it."""

import json
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Keepalive:
    """Headers now, then a blank line every `interval_s` (DeepSeek's queue), then the body."""

    interval_s: float = 0.5
    duration_s: float = 1.0
    then: str = "body"  # "body" or "forever" (until max_s or the client leaves)
    chunked: bool = True  # else no Content-Length and Connection: close
    max_s: float = 120.0
    line: bytes = b"\n"  # or b": keep-alive\n\n", the SSE comment of a streaming queue


@dataclass(frozen=True)
class SlowHeaders:
    """The status line now, then one header line every `interval_s` for `duration_s`, then the rest."""

    interval_s: float = 1.0
    duration_s: float = 2.0


class Piece(bytes):
    """A stream event carrying `tokens` of the answer, so the server can count what it wrote."""

    tokens = 0


def piece(data: bytes, tokens: int) -> bytes:
    if not tokens:
        return data
    out = Piece(data)
    out.tokens = tokens
    return out


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)
    delay_s: float = 0.0
    hang_s: float | None = None  # send nothing; drop the connection after hang_s
    keepalive: Keepalive | None = None
    slow_headers: SlowHeaders | None = None
    truncate: bool = False  # announce the whole body's length, send half, close the connection
    # SSE: each bytes item is written as its own chunk; a float is a pause of that many seconds
    events: list[bytes | float] | None = None
    # (prompt, completion) tokens of an answer, as its usage reports them; None: not an answer
    usage: tuple[int, int] | None = None


def compact(status: int, obj, headers=()) -> Reply:
    """OpenAI-style error bytes: compact JSON plus a newline (Groq, DeepSeek)."""
    body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
    return Reply(status, body, headers=list(headers))


def dense(obj, status: int = 200, headers=()) -> Reply:
    """A success body as API servers emit it: compact, no trailing newline."""
    body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    return Reply(status, body, headers=list(headers))


def pretty(status: int, obj) -> Reply:
    """Google's ESF bytes: 2-space indented JSON, trailing newline, charset in content-type."""
    body = json.dumps(obj, indent=2, ensure_ascii=False).encode() + b"\n"
    return Reply(status, body, content_type="application/json; charset=UTF-8")


def text(status: int, body: str, content_type: str = "text/plain") -> Reply:
    return Reply(status, body.encode(), content_type=content_type)


def sse(events: list[str], content_type: str = "text/event-stream", tokens=()) -> Reply:
    """A 200 stream whose `data:` lines are written one chunk at a time; `tokens[i]`: how many
    of the answer's tokens event i carries (the server counts those it wrote)."""
    tokens = list(tokens) + [0] * (len(events) - len(tokens))
    data = [piece(f"data: {e}\n\n".encode(), n) for e, n in zip(events, tokens, strict=True)]
    return Reply(200, content_type=content_type, events=data)
