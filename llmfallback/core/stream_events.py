"""What a streamed answer is made of: provider parsers yield these, the streaming engine relays them.

Provider side: Delta (text and tool-call pieces) and StreamEnd (finish reason, usage).
Engine side: StreamStart (who answers; sent once the first token is in hand), the Deltas,
then StreamDone, or StreamFailed when the stream broke after the first token and no provider
could continue it. StreamResumed marks where another provider took a broken stream over.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ProviderError
from .types import Attempt, Usage


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of one tool call, OpenAI style: the first piece of a call has id and name,
    later ones only more `arguments` text. `index` tells the calls of one answer apart."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True, slots=True)
class Delta:
    content: str = ""
    tool_calls: tuple[ToolCallDelta, ...] = ()
    # The provider's usage so far, when it reports one on every chunk (Gemini's usageMetadata):
    # what a stream cut short here is charged, rather than an estimate.
    usage: Usage | None = None

    @property
    def is_token(self) -> bool:
        """Whether this carries the answer itself: text beyond whitespace, or a tool call."""
        return bool(self.tool_calls) or bool(self.content.strip())


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """The provider finished: its finish reason (OpenAI's words) and usage, when it said."""

    finish_reason: str | None
    usage: Usage | None = None
    model: str = ""
    id: str = ""


@dataclass(frozen=True, slots=True)
class StreamStart:
    provider: str
    model: str
    key: str
    attempts: tuple[Attempt, ...]


@dataclass(frozen=True, slots=True)
class StreamResumed:
    """The stream broke; from here on `provider` serves it. `mode`: "prefill" (it continued
    the text already sent) or "splice" (it answered again; only what follows that text is sent)."""

    provider: str
    model: str
    key: str
    mode: str


@dataclass(frozen=True, slots=True)
class Served:
    """One provider's part of a streamed answer: `chars` of text from offset `start`."""

    provider: str
    model: str
    key: str
    mode: str  # "fresh", "prefill" or "splice"
    start: int
    chars: int


@dataclass(frozen=True, slots=True)
class StreamDone:
    finish_reason: str
    usage: Usage  # what the serving providers reported, added up
    attempts: tuple[Attempt, ...]
    served: tuple[Served, ...] = ()


@dataclass(frozen=True, slots=True)
class StreamFailed:
    """The stream broke after its first token: the caller gets an error event, never [DONE]."""

    error: ProviderError
    attempts: tuple[Attempt, ...]
