"""The fallback engine: try providers in priority order and return the first good answer."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .cooldown import CooldownPolicy
from .errors import KEY_SCOPED, TRANSIENT, AllProvidersFailed, CallerError, ErrorKind, ProviderError
from .ports import ApiKey, Failure, HealthStore, Provider
from .types import Attempt, ChatRequest, ChatResult, Timeouts


@dataclass(frozen=True, slots=True)
class EngineSettings:
    max_retries_per_provider: int = 2  # transient classes only
    deadline_s: float = 60.0  # the whole request, every provider and retry included
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0


class _Skip(Exception):
    """Move on to the next provider without touching its other keys."""


class FallbackEngine:
    def __init__(
        self,
        providers: Sequence[Provider],
        store: HealthStore,
        policy: CooldownPolicy | None = None,
        clock: Callable[[], float] = time.time,
        settings: EngineSettings | None = None,
    ) -> None:
        self.providers = list(providers)
        self.store = store
        self.policy = policy or CooldownPolicy()
        self.clock = clock
        self.settings = settings or EngineSettings()

    def chat(self, request: ChatRequest) -> ChatResult:
        """Try providers in priority order, skipping those cooling down or unavailable."""
        deadline = self.clock() + self.settings.deadline_s
        attempts: list[Attempt] = []
        for provider in self.providers:
            if provider.missing:
                continue
            try:
                result = self._try_provider(provider, request, deadline, attempts)
            except _Skip:
                continue
            if result is not None:
                return result
            if self.clock() >= deadline:
                raise AllProvidersFailed(attempts, retry_after=1.0, reason="deadline exceeded")
        raise AllProvidersFailed(attempts, retry_after=self.earliest_recovery())

    def earliest_recovery(self) -> float | None:
        """Seconds until the first configured provider key may be called again; None if never."""
        now = self.clock()
        waits = [
            max(state.cooldown_until - now, 0.0)
            for provider in self.providers
            if not provider.missing
            for key in provider.keys
            if not (state := self.store.state(provider.name, key.label, now=now)).unavailable
        ]
        return min(waits) if waits else None

    def _try_provider(self, provider, request, deadline, attempts) -> ChatResult | None:
        for key in provider.keys:
            now = self.clock()
            state = self.store.state(provider.name, key.label, now=now)
            if state.unavailable or state.cooldown_until > now:
                continue
            result = self._try_key(provider, key, request, deadline, attempts, state.trips)
            if result is not None:
                return result
        return None

    def _try_key(self, provider, key, request, deadline, attempts, trips) -> ChatResult | None:
        for retry in range(self.settings.max_retries_per_provider + 1):
            remaining = deadline - self.clock()
            if remaining <= 0:
                return None
            started = self.clock()
            try:
                completion = provider.chat(request, key=key, timeouts=self._timeouts(remaining))
            except ProviderError as error:
                latency_ms = (self.clock() - started) * 1000
                attempts.append(_attempt(provider, key, error, latency_ms))
                last_try = retry == self.settings.max_retries_per_provider
                self._fail(
                    provider, key, error, latency_ms, trips + retry, cool=_cools(error, last_try)
                )
                self._after_failure(error, attempts, last_try)
                if error.kind in KEY_SCOPED:
                    return None  # this key is spent; the provider's next key may still work
                continue
            latency_ms = (self.clock() - started) * 1000
            self.store.record_success(
                provider.name, key.label, latency_ms=latency_ms, now=self.clock()
            )
            attempts.append(Attempt(provider.name, key.label, None, 200, latency_ms))
            return ChatResult(
                content=completion.content,
                provider=provider.name,
                model=completion.model or provider.model,
                usage=completion.usage,
                key=key.label,
                attempts=tuple(attempts),
            )
        raise _Skip

    def _after_failure(self, error: ProviderError, attempts, last_try: bool) -> None:
        if not error.falls_back:
            raise CallerError(error, attempts)
        if error.kind is ErrorKind.BAD_REQUEST or error.kind is ErrorKind.CONTENT_FILTER:
            raise _Skip  # another provider may take it; this one's other keys would not
        if error.kind in TRANSIENT and last_try:
            raise _Skip

    def _fail(self, provider, key: ApiKey, error, latency_ms, trips, *, cool: bool) -> None:
        now = self.clock()
        decision = self.policy.decide(error, trips=trips, now=now)
        self.store.record_failure(
            Failure(
                provider=provider.name,
                key=key.label,
                error=error,
                latency_ms=latency_ms,
                cooldown_until=decision.until if cool else None,
                scope=decision.scope,
                unavailable=decision.unavailable,
            ),
            now=now,
        )

    def _timeouts(self, remaining: float) -> Timeouts:
        s = self.settings
        return Timeouts(
            connect=min(s.connect_timeout_s, remaining),
            read=min(s.read_timeout_s, remaining),
            total=remaining,
        )


def _cools(error: ProviderError, last_try: bool) -> bool:
    """Transient failures cool the provider down only once its retries are spent."""
    return last_try or error.kind not in TRANSIENT


def _attempt(provider, key: ApiKey, error: ProviderError, latency_ms: float) -> Attempt:
    return Attempt(
        provider.name, key.label, error.kind.value, error.status, latency_ms, error.message
    )
