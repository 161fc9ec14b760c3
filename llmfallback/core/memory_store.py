"""A HealthStore kept in one process's memory: for unit tests and for embedding without a database."""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass

from .ports import Failure, KeyState


@dataclass
class _Row:
    cooldown_until: float = 0.0
    unavailable: bool = False
    consecutive_failures: int = 0
    total_requests: int = 0
    total_failures: int = 0
    last_error_type: str | None = None
    episodes: int = 0  # cooldown episodes since the last success
    probe_until: float = 0.0  # the half-open probe lease (providers only)


class MemoryHealthStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.providers: dict[str, _Row] = defaultdict(_Row)
        self.keys: dict[tuple[str, str], _Row] = defaultdict(_Row)
        self.errors: list[Failure] = []

    def state(self, provider: str, key: str, *, now: float) -> KeyState:
        with self._lock:
            p, k = self.providers[provider], self.keys[provider, key]
            return KeyState(
                cooldown_until=max(p.cooldown_until, k.cooldown_until),
                unavailable=p.unavailable or k.unavailable,
                episodes=p.episodes,
                probe_due=p.episodes > 0 and p.probe_until <= now,
                leased=p.probe_until > now,
                key_until=k.cooldown_until,
            )

    def try_acquire_probe(self, provider: str, *, now: float, lease_s: float) -> bool:
        with self._lock:
            row = self.providers[provider]
            if row.probe_until > now:
                return False
            row.probe_until = now + lease_s
            return True

    def end_probe(self, provider: str, *, healthy: bool, now: float, next_s: float = 0.0) -> None:
        with self._lock:
            row = self.providers[provider]
            if healthy:
                row.probe_until = row.cooldown_until = 0.0
                row.episodes = 0
            elif row.cooldown_until > now:
                row.probe_until = min(now + next_s, row.cooldown_until)
            else:
                row.probe_until = 0.0

    def record_success(self, provider: str, key: str, *, latency_ms: float, now: float) -> None:
        with self._lock:
            for row in (self.providers[provider], self.keys[provider, key]):
                row.total_requests += 1
                row.consecutive_failures = row.episodes = 0
            self.providers[provider].probe_until = 0.0

    def record_failure(self, failure: Failure, *, now: float) -> None:
        with self._lock:
            self.errors.append(failure)
            for row in (self.providers[failure.provider], self.keys[failure.provider, failure.key]):
                row.total_requests += 1
                row.last_error_type = failure.error.kind.value
                if failure.error.refuses_request:
                    continue  # the request's own fault, not the provider's
                row.total_failures += 1
                row.consecutive_failures += 1
            target = self._target(failure)
            if failure.episode and failure.scope == "provider" and target.cooldown_until <= now:
                target.episodes += 1  # a new episode; failures inside a running one join it
                if failure.probe_at is not None:
                    target.probe_until = max(target.probe_until, failure.probe_at)
            if failure.cooldown_until is not None:
                target.cooldown_until = max(target.cooldown_until, failure.cooldown_until)
            target.unavailable = target.unavailable or failure.unavailable

    def reset(self, provider: str) -> None:
        with self._lock:
            for (name, _), row in self.keys.items():
                if name == provider:
                    row.cooldown_until, row.unavailable = 0.0, False
            row = self.providers[provider]
            row.cooldown_until, row.unavailable, row.consecutive_failures, row.episodes = (
                0.0,
                False,
                0,
                0,
            )
            row.probe_until = 0.0

    def _target(self, failure: Failure) -> _Row:
        if failure.scope == "key":
            return self.keys[failure.provider, failure.key]
        return self.providers[failure.provider]
