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
    # Thresholds: the env's, unless the Congress raised them (llmfallback.overrides).
    congress_threshold_failures: int = field(default_factory=lambda: _threshold("congress_threshold_failures"))
    congress_threshold_repeated_error: int = field(
        default_factory=lambda: _threshold("congress_threshold_repeated_error")
    )
    enable_congress_escalation: bool = field(default_factory=lambda: settings.LLM_ENABLE_CONGRESS_ESCALATION)
    congress_window_s: int = field(default_factory=lambda: _threshold("congress_window_s"))


def _threshold(name: str) -> int:
    from .overrides import override_value

    return override_value(name)


class LLMFallbackManager:
    """In-process access to the gateway, sharing health with every other worker through the database."""

    def __init__(self, config: FallbackConfig | None = None) -> None:
        self.config = config or FallbackConfig()
        self.last_result = None
        self.last_error: ChatFailed | None = None
        self.last_escalation: dict | None = None  # {"escalated_to_congress": True, ids...} after a failure

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
