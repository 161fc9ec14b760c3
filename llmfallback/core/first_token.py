"""How long one streamed attempt may wait for its first token before falling back.

A fixed limit either cuts long prompts (a 100k-token prompt takes a while to read) or lets an
overloaded provider hold every caller for its whole length. So the limit starts from a base for
ordinary prompts and grows with two things: the prompt's size, and how long this provider has
recently taken to its first token (its p95 times a factor). Observations are kept per process,
a bounded window per provider: plain Python, no database on the streaming path.
"""

from __future__ import annotations

import math
import threading
from collections import deque

from .types import ChatRequest

CHARS_PER_TOKEN = 4  # the usual estimate for English text; only the order of magnitude matters


class FirstTokenLimit:
    def __init__(
        self,
        base_s: float = 10.0,
        *,
        per_1k_tokens_s: float = 0.5,
        p95_factor: float = 3.0,
        window: int = 100,
        min_samples: int = 5,
    ) -> None:
        self.base_s = base_s
        self.per_1k_tokens_s = per_1k_tokens_s
        self.p95_factor = p95_factor
        self.min_samples = min_samples
        self._window = window
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def seconds(self, provider: str, request: ChatRequest) -> float:
        """The limit for `request` on `provider`: the base plus the prompt's share, or the
        provider's recent p95 times the factor, whichever is longer."""
        tokens = prompt_tokens(request)
        by_size = self.base_s + self.per_1k_tokens_s * tokens / 1000
        p95 = self.p95(provider)
        by_history = p95 * self.p95_factor if p95 is not None else 0.0
        return max(by_size, by_history)

    def observe(self, provider: str, seconds: float) -> None:
        """A first token arrived after `seconds`."""
        with self._lock:
            seen = self._seen.setdefault(provider, deque(maxlen=self._window))
            seen.append(seconds)

    def p95(self, provider: str) -> float | None:
        with self._lock:
            seen = sorted(self._seen.get(provider, ()))
        if len(seen) < self.min_samples:
            return None
        return seen[min(len(seen) - 1, math.ceil(0.95 * len(seen)) - 1)]


def prompt_tokens(request: ChatRequest) -> int:
    """A rough count of the prompt's tokens: its characters over four."""
    chars = sum(len(m.content) for m in request.messages) + len(request.prefill)
    return chars // CHARS_PER_TOKEN
