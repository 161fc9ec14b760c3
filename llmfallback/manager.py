"""The seed's Python API: `get_llm_manager().chat(messages=[...])` -> (text, provider) or (None, "failed")."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .core.errors import ChatFailed
from .core.types import ChatRequest


@dataclass
class FallbackConfig:
    """The seed's configuration object. A field left at None follows the running service: the
    operators' priority order and enabled providers, the environment's retries, and thresholds
    as the Congress last set them, read at each call rather than frozen at construction.
    A priority given here picks and orders the providers (disabled ones are still skipped).
    """

    provider_priority: list[str] | None = None
    max_retries_per_provider: int | None = None
    congress_threshold_failures: int | None = None
    congress_threshold_repeated_error: int | None = None
    enable_congress_escalation: bool | None = None
    congress_window_s: int | None = None


class LLMFallbackManager:
    """In-process access to the gateway, sharing health with every other worker through the database."""

    def __init__(self, config: FallbackConfig | None = None) -> None:
        self.config = config or FallbackConfig()
        self.last_result = None
        self.last_error: ChatFailed | None = None
        self.last_escalation: dict | None = (
            None  # {"escalated_to_congress": True, ids...} after a failure
        )

    def chat(
        self,
        messages: list[dict],
        temperature: float = 0.7,
        max_tokens: int = 2000,
        json_mode: bool = False,
        context: str = "",
    ) -> tuple[str | None, str]:
        """Return (response_text, provider) or (None, "failed")."""
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
            self.last_result, self.last_error = None, error
            escalation = getattr(error, "escalation", None)
            self.last_escalation = escalation.as_dict() if escalation else None
            return None, "failed"
        self.last_result, self.last_error, self.last_escalation = result, None, None
        return result.content, result.provider

    def get_health_report(self) -> dict:
        from .selectors import health_report

        return health_report()


_manager: LLMFallbackManager | None = None
_lock = threading.Lock()


def get_llm_manager(config: FallbackConfig | None = None) -> LLMFallbackManager:
    """The one shared manager of this process (a config given on first use configures it)."""
    global _manager
    with _lock:
        if _manager is None or config is not None:
            _manager = LLMFallbackManager(config)
        return _manager
