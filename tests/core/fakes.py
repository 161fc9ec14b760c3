"""Test doubles for the engine: scripted providers and a hand-driven clock."""

from __future__ import annotations

from dataclasses import dataclass, field

from llmfallback.core.errors import ProviderError
from llmfallback.core.ports import ApiKey
from llmfallback.core.types import ChatRequest, Completion, Timeouts


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeProvider:
    """Answers from a script: each item is a ProviderError to raise or a string to answer."""

    name: str
    script: list = field(default_factory=list)
    keys: tuple[ApiKey, ...] = (ApiKey("k1", "secret-1"),)
    model: str = "fake-model"
    missing: str = ""
    calls: list = field(default_factory=list)
    clock: FakeClock | None = None
    takes_s: float = 0.0

    def chat(self, request: ChatRequest, *, key: ApiKey, timeouts: Timeouts) -> Completion:
        self.calls.append((key.label, timeouts))
        if self.clock:
            self.clock.advance(min(self.takes_s, timeouts.total))
        step = self.script.pop(0) if self.script else f"answer from {self.name}"
        if isinstance(step, ProviderError):
            raise step
        return Completion(content=step, model=self.model)


def ask(text: str = "hi", **kwargs) -> ChatRequest:
    return ChatRequest.from_dicts([{"role": "user", "content": text}], **kwargs)
