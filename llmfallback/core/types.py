"""Value objects shared by the engine, the provider adapters and the Django layer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class ChatRequest:
    messages: tuple[Message, ...]
    temperature: float = 0.7
    max_tokens: int = 2000
    json_mode: bool = False
    context: str = ""

    @classmethod
    def from_dicts(cls, messages: list[dict], **kwargs) -> ChatRequest:
        """Build a request from OpenAI-style message dicts."""
        return cls(tuple(Message(m["role"], m["content"]) for m in messages), **kwargs)


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Completion:
    """What one provider answered: the adapter's output before the engine adds bookkeeping."""

    content: str
    model: str
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None


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


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Per-attempt limits; `total` bounds the whole attempt even while bytes keep arriving."""

    connect: float = 5.0
    read: float = 30.0
    total: float = 60.0
