"""The simulator's state: scripted steps per provider (and key) and request counters."""

import hashlib
import threading
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field


def key_fingerprint(key: str | None) -> str:
    """Short, stable, non-secret name for an API key (sha256 prefix)."""
    if not key:
        return "-"
    return hashlib.sha256(key.encode()).hexdigest()[:8]


@dataclass
class Step:
    behavior: str
    params: dict = field(default_factory=dict)
    times: int = 1  # -1: until replaced


@dataclass
class SimRequest:
    """One chat request as a provider module sees it."""

    provider: str
    model: str
    body: dict
    key: str | None
    prompt: str = ""
    json_mode: bool = False
    stream: bool = False


class ScriptBook:
    """Thread-safe queues of steps keyed by (provider, key or None), plus counters."""

    def __init__(self):
        self._lock = threading.Lock()
        self._queues: dict[tuple[str, str | None], deque[Step]] = {}
        self._calls: Counter = Counter()
        self._by_key: defaultdict[str, Counter] = defaultdict(Counter)

    def script(self, provider: str, steps: list[Step], key=None, replace=True) -> None:
        with self._lock:
            queue = self._queues.setdefault((provider, key), deque())
            if replace:
                queue.clear()
            queue.extend(s for s in steps if s.times != 0)

    def take(self, provider: str, key: str | None) -> Step | None:
        """Count one request and return the step that applies to it, if any."""
        with self._lock:
            self._calls[provider] += 1
            self._by_key[provider][key_fingerprint(key)] += 1
            for queue_key in ((provider, key), (provider, None)):
                queue = self._queues.get(queue_key)
                if queue:
                    return self._consume(queue)
        return None

    @staticmethod
    def _consume(queue: deque[Step]) -> Step:
        step = queue[0]
        if step.times > 0:
            step.times -= 1
            if step.times == 0:
                queue.popleft()
        return step

    def calls(self) -> dict[str, int]:
        with self._lock:
            return {"groq": 0, "gemini": 0, "deepseek": 0, **self._calls}

    def calls_by_key(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {p: dict(c) for p, c in self._by_key.items()}

    def pending(self) -> dict[str, list[dict]]:
        with self._lock:
            out: dict[str, list[dict]] = defaultdict(list)
            for (provider, key), queue in self._queues.items():
                for s in queue:
                    item = {"behavior": s.behavior, "times": s.times, **s.params}
                    out[provider].append(item | ({"key": key_fingerprint(key)} if key else {}))
            return dict(out)

    def reset(self) -> None:
        with self._lock:
            self._queues.clear()
            self._calls.clear()
            self._by_key.clear()
