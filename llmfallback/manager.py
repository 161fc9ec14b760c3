"""The seed's Python API: `get_llm_manager().chat(messages=[...])` -> (text, provider) or (None, "failed")."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .core.errors import ChatFailed
from .core.types import ChatRequest, ChatResult


@dataclass
class FallbackConfig:
    """The seed's configuration object. A field left at None follows the running service: the
    operators' priority order and enabled providers, the environment's retries, and thresholds
    as the Congress last set them, read at each call rather than frozen at construction.
    A priority given here picks and orders the providers (disabled ones are still skipped).
    """

    provider_priority: list[str] | None = None
    provider_models: dict[str, str] | None = None  # provider -> model other than its configured one
    max_retries_per_provider: int | None = None
    congress_threshold_failures: int | None = None
    congress_threshold_repeated_error: int | None = None
    enable_congress_escalation: bool | None = None
    congress_window_s: int | None = None


@dataclass(frozen=True, slots=True)
class ChatOutcome:
    """Everything one call reports, returned to its caller alone (never kept on the manager)."""

    content: str | None
    provider: str  # "failed" when no provider answered
    result: ChatResult | None = None
    error: ChatFailed | None = None
    escalation: dict | None = None  # {"escalated_to_congress": True, ids...} after a failure


class LLMFallbackManager:
    """In-process access to the gateway, sharing health with every other worker through the database.

    One manager is shared by every thread of a process: it keeps nothing from a call.
    """

    def __init__(self, config: FallbackConfig | None = None) -> None:
        self.config = config or FallbackConfig()

    def chat(
        self,
        messages: list[dict],
        temperature: float = 0.7,
        max_tokens: int = 2000,
        json_mode: bool = False,
        context: str = "",
    ) -> tuple[str | None, str]:
        """Return (response_text, provider) or (None, "failed")."""
        outcome = self.ask(messages, temperature, max_tokens, json_mode, context)
        return outcome.content, outcome.provider

    def ask(
        self,
        messages: list[dict],
        temperature: float = 0.7,
        max_tokens: int = 2000,
        json_mode: bool = False,
        context: str = "",
    ) -> ChatOutcome:
        """Like chat(), with the whole result, the error and the escalation of this call."""
        from . import services

        request = ChatRequest.from_dicts(
            messages,
            temperature=temperature,
            max_tokens=max_tokens,
            json_mode=json_mode,
            context=context,
        )
        try:
            result = services.llm_chat(request=request, config=self.config)
        except ChatFailed as error:
            escalation = getattr(error, "escalation", None)
            return ChatOutcome(
                None, "failed", error=error, escalation=escalation and escalation.as_dict()
            )
        return ChatOutcome(result.content, result.provider, result=result)

    def get_health_report(self) -> dict:
        from .selectors import health_report

        return health_report()


_manager: LLMFallbackManager | None = None
_lock = threading.Lock()


def get_llm_manager(config: FallbackConfig | None = None) -> LLMFallbackManager:
    """The process's shared manager, which follows the operators' settings; with a config, a
    manager of the caller's own. A config never replaces the shared one: one caller's chain
    must not become every later caller's (BaseAgent.act() included)."""
    global _manager
    if config is not None:
        return LLMFallbackManager(config)
    with _lock:
        if _manager is None:
            _manager = LLMFallbackManager()
        return _manager
