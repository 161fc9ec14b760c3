"""The fallback engine: try providers in priority order and return the first good answer."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from . import pacing
from .call_state import Call, Probe, Skip, attempt_of, blocked
from .cooldown import CooldownPolicy
from .errors import (
    KEY_SCOPED,
    AllProvidersFailed,
    CallerError,
    ErrorKind,
    ProviderError,
)
from .ports import ApiKey, Failure, HealthStore, KeyState, Provider
from .types import Attempt, ChatRequest, ChatResult, Timeouts


@dataclass(frozen=True, slots=True)
class EngineSettings:
    max_retries_per_provider: int = 2  # unavailable, invalid_response and unknown only
    deadline_s: float = 60.0  # the whole request, every provider and retry included
    attempt_timeout_s: float = 20.0  # one call to one provider, every phase included
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 15.0  # idle time without content bytes
    retry_backoff_s: float = 0.2  # first wait before a retry; doubles, with jitter
    # Never wait longer than this to retry: fall back instead. A rate limit that names a wait
    # this short is waited out once on the first provider tried (see _retry_wait).
    retry_wait_cap_s: float = 3.0
    # While other providers remain, one attempt may use at most this share of the time left
    # (never less than the floor), so a provider that trickles keep-alives cannot use it all.
    attempt_share: float = 0.5
    attempt_floor_s: float = 2.0
    # A content-filter refusal is the caller's answer (a 400), unless operators choose to
    # route around it to the next provider.
    content_filter_fallback: bool = False
    # A recovering provider is probed by one request at least this often, however long its
    # cooldown has grown (the lease is shared by every worker).
    probe_interval_s: float = 15.0


class FallbackEngine:
    def __init__(
        self,
        providers: Sequence[Provider],
        store: HealthStore,
        policy: CooldownPolicy | None = None,
        clock: Callable[[], float] = time.time,
        settings: EngineSettings | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.providers = list(providers)
        self.store = store
        self.policy = policy or CooldownPolicy()
        self.clock = clock
        self.settings = settings or EngineSettings()
        self.sleep = sleep
        self.rng = rng

    def chat(self, request: ChatRequest) -> ChatResult:
        """Try providers in priority order, skipping those cooling down or unavailable."""
        call = Call(request, self.clock() + self.settings.deadline_s)
        live = [p for p in self.providers if not p.missing]
        for index, provider in enumerate(live):
            call.more = index < len(live) - 1
            try:
                result = self._try_provider(provider, call)
            except Skip:
                continue
            if result is not None:
                return result
            if self.clock() >= call.deadline:
                break
        raise self._failure(call)

    def _failure(self, call: Call) -> Exception:
        if call.refusals and not call.provider_faults:
            # Every provider tried refused the request itself: the caller's to fix, not an outage.
            return CallerError(call.refusals[-1][1], call.attempts, refusals=call.refusals)
        reason = "deadline exceeded" if self.clock() >= call.deadline else "all providers failed"
        return AllProvidersFailed(
            call.attempts, retry_after=self.earliest_recovery(), reason=reason
        )

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

    def _try_provider(self, provider, call: Call) -> ChatResult | None:
        probe = Probe()
        try:
            for key in provider.keys:
                state = self.store.state(provider.name, key.label, now=self.clock())
                if not self._admits(provider, state, probe):
                    continue
                result = self._try_key(provider, key, call, state, probe)
                if result is not None:
                    probe.healthy = True
                    return result
            return None
        finally:
            self._end_probe(provider, probe)

    def _admits(self, provider, state: KeyState, probe: Probe) -> bool:
        """May this key be called now? A recovering provider is called by the one request that
        wins its lease, when its probe is due (its cooldown ended, or a probe interval passed);
        a suspect one by the request retrying it. For the others it is cooling (Skip)."""
        now = self.clock()
        if state.unavailable or state.key_until > now:
            return False  # a key's named wait is never probed past
        if probe.held:
            return True
        if state.leased:
            raise Skip
        if state.probe_due:
            # The lease outlives any request holding it (the deadline); a killed worker's lapses.
            if not self._lease(provider, probe, self.settings.deadline_s):
                raise Skip
            return True
        return state.cooldown_until <= now

    def _lease(self, provider, probe: Probe, lease_s: float) -> bool:
        probe.held = self.store.try_acquire_probe(provider.name, now=self.clock(), lease_s=lease_s)
        return probe.held

    def _suspect(self, provider, error: ProviderError, probe: Probe, wait: float) -> None:
        """A first failure that will be retried makes the provider suspect for every worker at
        once: this request keeps its lease while it retries, the others go elsewhere. Skip
        when another request already holds it. The lease covers the wait and a few seconds of
        the retry, no more: a worker killed while holding it keeps the provider out briefly."""
        if probe.held or error.kind in KEY_SCOPED:
            return
        if not self._lease(provider, probe, wait + self.settings.connect_timeout_s):
            raise Skip

    def _end_probe(self, provider, probe: Probe) -> None:
        if probe.held:
            self.store.end_probe(
                provider.name,
                healthy=probe.healthy,
                now=self.clock(),
                next_s=self.settings.probe_interval_s,
            )

    def _try_key(
        self, provider, key: ApiKey, call: Call, state: KeyState, probe: Probe
    ) -> ChatResult | None:
        """Call one key; retry transient failures; None when the key is spent (try the next)."""
        for retry in range(self.settings.max_retries_per_provider + 1):
            remaining = call.deadline - self.clock()
            if remaining <= 0:
                raise Skip
            started = self.clock()
            try:
                completion = provider.chat(
                    call.request, key=key, timeouts=self._timeouts(remaining, call)
                )
            except ProviderError as error:
                latency_ms = (self.clock() - started) * 1000
                call.attempts.append(attempt_of(provider, key, error, latency_ms))
                wait = self._retry_wait(error, retry, call, provider=provider, key=key)
                self._fail(provider, key, error, latency_ms, state, final=wait is None)
                rotate = self._after_failure(provider, error, call)
                if wait is None and rotate:
                    return None  # this key is spent; the provider's next key may still work
                if wait is None:
                    raise Skip from None
                self._suspect(provider, error, probe, wait)
                self.sleep(wait)
                state = self.store.state(provider.name, key.label, now=self.clock())
                if blocked(state, self.clock()):
                    raise Skip from None  # another worker cooled it meanwhile: leave it be
                continue
            return self._success(provider, key, completion, call, started)
        raise Skip

    def _success(self, provider, key, completion, call: Call, started: float) -> ChatResult:
        latency_ms = (self.clock() - started) * 1000
        self.store.record_success(provider.name, key.label, latency_ms=latency_ms, now=self.clock())
        call.attempts.append(Attempt(provider.name, key.label, None, 200, latency_ms))
        return ChatResult(
            content=completion.content,
            provider=provider.name,
            model=completion.model or provider.model,
            usage=completion.usage,
            key=key.label,
            attempts=tuple(call.attempts),
            completion=completion,
        )

    def _after_failure(self, provider, error: ProviderError, call: Call) -> bool:
        """Raise to end the call or skip the provider; True when the next key should be tried."""
        if error.refuses_request:
            if not self._falls_back(error):
                raise CallerError(error, call.attempts)  # malformed: no provider would take it
            call.refusals.append((provider.name, error))
            raise Skip  # too large, blocked, unusable answer: another provider may take it
        call.provider_faults += 1
        return error.kind in KEY_SCOPED

    def _falls_back(self, error: ProviderError) -> bool:
        if error.kind is ErrorKind.CONTENT_FILTER:
            return self.settings.content_filter_fallback
        return error.falls_back

    def _retry_wait(
        self, error: ProviderError, retry: int, call: Call, *, provider=None, key=None
    ) -> float | None:
        """pacing.retry_wait, where a named wait is waited out only on the call's first
        provider, from its last key; and only when it fits the time left."""
        named_ok = (
            provider is not None
            and key == provider.keys[-1]
            and all(a.provider == provider.name for a in call.attempts)
        )
        wait = pacing.retry_wait(self.settings, error, retry, rng=self.rng, named_ok=named_ok)
        if wait is None or self.clock() + wait >= call.deadline:
            return None
        return wait

    def _fail(self, provider, key: ApiKey, error, latency_ms, state: KeyState, *, final: bool):
        """Record a failure. Only a final one starts (or joins) a cooldown episode; an earlier
        one that names a wait still keeps every worker away until it has passed.
        """
        now = self.clock()
        decision = self.policy.decide(error, episodes=state.episodes, now=now)
        until = decision.until
        if not final:
            until = now + error.retry_after if error.retry_after else None
        episode = final and until is not None
        self.store.record_failure(
            Failure(
                provider=provider.name,
                key=key.label,
                error=error,
                latency_ms=latency_ms,
                cooldown_until=until,
                scope=decision.scope,
                unavailable=decision.unavailable,
                episode=episode,
                probe_at=min(now + self.settings.probe_interval_s, until) if episode else None,
            ),
            now=now,
        )

    def _timeouts(self, remaining: float, call: Call | None = None) -> Timeouts:
        return pacing.attempt_timeouts(self.settings, remaining, more=bool(call and call.more))

    def _share(self, remaining: float, call: Call | None) -> float:
        return pacing.attempt_time(self.settings, remaining, more=bool(call and call.more))
