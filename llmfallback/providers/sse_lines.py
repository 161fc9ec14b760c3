"""Server-Sent Events from bytes: the `data:` of each event, comments and blank lines skipped.

The framing every streaming provider shares (https://html.spec.whatwg.org/multipage/server-sent-events.html):
lines end in LF or CRLF, `data:` lines accumulate until a blank line ends the event, lines
starting with ":" are comments (DeepSeek's `: keep-alive`), other fields are not used here.
"""

from __future__ import annotations

from llmfallback.core.errors import InvalidResponse

MAX_LINE = 4 * 1024 * 1024  # one event of a chat answer is kilobytes; a longer line is no event


class SSEDecoder:
    """Feed it body bytes as they come; it returns the data of each event completed."""

    __slots__ = ("_buffer", "_data")

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[str]:
        self._buffer += chunk
        if b"\n" not in chunk:
            if len(self._buffer) > MAX_LINE:
                raise InvalidResponse("stream line too long", status=200)
            return []
        *lines, self._buffer = self._buffer.split(b"\n")
        events = []
        for line in lines:
            event = self._line(line[:-1] if line.endswith(b"\r") else line)
            if event is not None:
                events.append(event)
        return events

    def close(self) -> list[str]:
        """The end of the body: an event whose closing blank line never came still counts when
        its lines were whole (Gemini ends the body after its last event); a cut line does not."""
        if self._data and not self._buffer:
            return [self._flush()]
        return []

    def _line(self, line: bytes) -> str | None:
        if not line:
            return self._flush() if self._data else None
        if line.startswith(b":"):
            return None  # a comment: keep-alives, never content
        name, _, value = line.partition(b":")
        if name == b"data":  # bytes that are not UTF-8 become U+FFFD, as in a whole reply
            value = value[1:] if value.startswith(b" ") else value
            self._data.append(value.decode("utf-8", "replace"))
        return None

    def _flush(self) -> str:
        data, self._data = "\n".join(self._data), []
        return data
