"""The seed's Python API: `get_llm_manager().chat(messages=[...])` -> (text, provider) or (None, "failed")."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from django.conf import settings

from .core.errors import ChatFailed
from .core.types import ChatRequest


def _default_priority() -> list[str]:
    return [c.name for c in settings.LLM_PROVIDERS]


@dataclass
class FallbackConfig:
    """The seed's configuration object; defaults come from the environment (settings)."""

    provider_priority: list[str] = field(default_factory=_default_priority)
    max_retries_per_provider: int = field(default_factory=lambda: settings.LLM_MAX_RETRIES_PER_PROVIDER)
    congress_threshold_failures: int = field(default_factory=lambda: settings.LLM_CONGRESS_THRESHOLD_FAILURES)
    congress_threshold_repeated_error: int = field(
        default_factory=lambda: settings.LLM_CONGRESS_THRESHOLD_REPEATED_ERROR
    )
    enable_congress_escalation: bool = field(default_factory=lambda: settings.LLM_ENABLE_CONGRESS_ESCALATION)
    congress_window_s: int = field(default_factory=lambda: settings.LLM_CONGRESS_WINDOW_S)


class LLMFallbackManager:
    """In-process access to the gateway, sharing health with every other worker through the database."""

    def __init__(self, config: FallbackConfig | None = None) -> None:
        self.config = config or FallbackConfig()
        self.last_result = None
        self.last_error: ChatFailed | None = None

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
            messages, temperature=temperature, max_tokens=max_tokens, json_mode=json_mode, context=context
        )
        try:
            result = services.llm_chat(request=request, config=self.config)
        except ChatFailed as error:
            self.last_result, self.last_error = None, error
            return None, "failed"
        self.last_result, self.last_error = result, None
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
