"""Value objects shared by the engine, the provider adapters and the Django layer.

The request carries what OpenAI's chat-completions API can say (tools, JSON schema, sampling
options) in plain Python, so each adapter translates from one place and a streaming path can
reuse the same objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function call the model asked for; `arguments` is JSON text, as OpenAI sends it."""

    id: str
    name: str
    arguments: str = "{}"


@dataclass(frozen=True, slots=True)
class Tool:
    """A function the model may call; `parameters` is a JSON Schema object (None: no arguments)."""

    name: str
    description: str = ""
    parameters: dict | None = None
    strict: bool | None = None


@dataclass(frozen=True, slots=True)
class ToolChoice:
    """OpenAI's tool_choice: "auto", "none", "required", or one `function` the model must call."""

    mode: Literal["auto", "none", "required"] = "auto"
    function: str | None = None


@dataclass(frozen=True, slots=True)
class JsonSchema:
    """response_format json_schema: the answer must be JSON matching `schema`."""

    name: str
    schema: dict
    strict: bool | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str
    # Multi-part text content as the caller sent it; `content` holds the parts joined.
    parts: tuple[str, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()  # assistant messages that called tools
    tool_call_id: str | None = None  # tool messages: which call this result answers
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ChatRequest:
    messages: tuple[Message, ...]
    temperature: float | None = 0.7  # None: the provider's default
    max_tokens: int | None = 2000  # None: the provider's default
    json_mode: bool = False  # the answer must be JSON (json_object, or json_schema below)
    context: str = ""
    json_schema: JsonSchema | None = None
    tools: tuple[Tool, ...] = ()
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    stop: tuple[str, ...] = ()
    top_p: float | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    user: str | None = None
    # The start of the answer, already sent to the caller: the provider is asked to continue it
    # (an assistant prefill). Only the streaming rescue sets it (core/streaming.py).
    prefill: str = ""

    @classmethod
    def from_dicts(cls, messages: list[dict], **kwargs) -> ChatRequest:
        """Build a request from OpenAI-style message dicts."""
        return cls(tuple(Message(m["role"], m["content"]) for m in messages), **kwargs)

    @property
    def needs(self) -> frozenset[str]:
        """Capabilities a provider must have to serve this request (see providers.capabilities)."""
        needed = set()
        if self.tools or any(m.tool_calls or m.role == "tool" for m in self.messages):
            needed.add("tools")
        if self.json_schema is not None:
            needed.add("json_schema")
        elif self.json_mode:
            needed.add("json_object")
        if self.presence_penalty or self.frequency_penalty:
            needed.add("penalties")
        if self.tools and self.json_mode:
            needed.add("tools_with_json")
        return frozenset(needed)


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Completion:
    """What one provider answered: the adapter's output before the engine adds bookkeeping."""

    content: str | None
    model: str
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    id: str = ""  # the provider's own id for this answer, when it gave one
    created: int | None = None  # epoch seconds, when the provider said


@dataclass(frozen=True, slots=True)
class Attempt:
    """One call to one provider key, successful (error_type None) or not."""

    provider: str
    key: str
    error_type: str | None
    status: int | None
    latency_ms: float
    message: str = ""
    refused: bool = False  # the provider refused the request itself: not the provider's fault


@dataclass(frozen=True, slots=True)
class ChatResult:
    content: str
    provider: str
    model: str
    usage: Usage
    key: str
    attempts: tuple[Attempt, ...]
    # What /v1 needs beyond the seed's answer; defaults keep older constructors working.
    completion: Completion | None = None


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Per-attempt limits; `total` bounds the whole attempt even while bytes keep arriving."""

    connect: float = 5.0
    read: float = 30.0
    total: float = 60.0
