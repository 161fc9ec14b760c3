"""The simulator's state: scripted steps per provider (and key), chaos, counters and a call log,
and the tokens it generated: each answer's prompt plus the completion tokens it wrote."""

import hashlib
import threading
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field

from .chaos import Chaos
from .chaos_faults import fault_step

# Enough for a 5,000-request soak with every fallback and retry, bounded so a long-running demo
# simulator never grows without end (the oldest calls go first).
CALL_LOG_MAX = 200_000


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
    prefill: str = ""  # the text of a trailing assistant (Gemini: model) turn to continue


class _Entry(dict):
    """One call's log entry, and which reset it came after (not shown in the call log)."""

    __slots__ = ("epoch",)


class ScriptBook:
    """Thread-safe queues of steps keyed by (provider, key or None), chaos, counters, call log."""

    def __init__(self, wall=time.time, clock=time.monotonic):
        self._lock = threading.Lock()
        self._queues: dict[tuple[str, str | None], deque[Step]] = {}
        self._calls: Counter = Counter()
        self._by_key: defaultdict[str, Counter] = defaultdict(Counter)
        self._log: deque[dict] = deque(maxlen=CALL_LOG_MAX)
        self._logged = 0  # calls ever logged since the last reset, so readers can page
        self._epoch = 0  # resets so far: an answer that ends after one is counted nowhere
        self._wall, self._clock = wall, clock
        self.chaos: Chaos | None = None
        self._model_calls: Counter = Counter()  # GET model routes: probes, never chats
        self.refused_keys: frozenset[str] = frozenset()  # fingerprints answered with `auth`
        # provider -> "stream" or "plain" -> calls, prompt_tokens, completion_tokens
        self._generated: defaultdict[str, defaultdict[str, Counter]] = _generated()

    def script(self, provider: str, steps: list[Step], key=None, replace=True) -> None:
        with self._lock:
            queue = self._queues.setdefault((provider, key), deque())
            if replace:
                queue.clear()
            queue.extend(s for s in steps if s.times != 0)

    def take(self, provider: str, key: str | None) -> tuple[Step | None, dict]:
        """Count and log one request; return the step that applies to it (scripted, else chaos)
        and its call log entry (for `generated`)."""
        arrived_at, mono = self._wall(), self._clock()
        with self._lock:
            fingerprint = key_fingerprint(key)
            self._calls[provider] += 1
            self._by_key[provider][fingerprint] += 1
            step = (
                self._scripted(provider, key)
                or (Step("auth") if fingerprint in self.refused_keys else None)
                or self._chaos_step(provider, fingerprint)
            )
            served = step.behavior if step else "ok"
            entry = _Entry(t=arrived_at, mono=mono, provider=provider, key=fingerprint)
            entry["served"] = served
            entry.epoch = self._epoch
            self._log.append(entry)
            self._logged += 1
            return step, entry

    def generated(self, entry: dict, *, stream: bool, prompt: int, completion: int) -> None:
        """Record what one answer generated: its prompt, and the completion tokens written
        before it ended or the client went away."""
        with self._lock:
            if getattr(entry, "epoch", self._epoch) != self._epoch:
                return  # called before the last reset: its test, or its drill, is over
            entry |= {"stream": stream, "prompt_tokens": prompt, "completion_tokens": completion}
            counts = self._generated[entry["provider"]]["stream" if stream else "plain"]
            counts.update(calls=1, prompt_tokens=prompt, completion_tokens=completion)

    def tokens(self) -> dict[str, dict[str, dict[str, int]]]:
        """Per provider, for "stream" and "plain" answers: calls, prompt and completion tokens."""
        with self._lock:
            return {
                p: {k: dict(c) for k, c in kinds.items()} for p, kinds in self._generated.items()
            }

    def take_models(self, provider: str, key: str | None) -> bool:
        """Count one GET on a model route (not a chat call); True when the key is refused."""
        with self._lock:
            self._model_calls[provider] += 1
            fingerprint = key_fingerprint(key)
            chaos = self.chaos
            in_chaos = chaos is not None and not chaos.over()
            bad = in_chaos and fingerprint in chaos.plan.config.bad_keys
            return bad or fingerprint in self.refused_keys

    def refuse_keys(self, fingerprints) -> None:
        """Answer these keys with the provider's auth error on every route until changed."""
        with self._lock:
            self.refused_keys = frozenset(fingerprints)

    def model_calls(self) -> dict[str, int]:
        with self._lock:
            return dict(self._model_calls)

    def _scripted(self, provider: str, key: str | None) -> Step | None:
        for queue_key in ((provider, key), (provider, None)):
            queue = self._queues.get(queue_key)
            if queue:
                return self._consume(queue)
        return None

    def _chaos_step(self, provider: str, fingerprint: str) -> Step | None:
        chaos = self.chaos
        if chaos is None or chaos.over():
            return None
        if fingerprint in chaos.plan.config.bad_keys:
            return Step("auth")
        found = chaos.burst_now(provider)
        if found is None:
            return None
        behavior, params = fault_step(*found, stall_s=chaos.plan.config.stall_s)
        return Step(behavior, params)

    def chaos_start(self, chaos: Chaos) -> None:
        with self._lock:
            self.chaos = chaos

    def chaos_stop(self) -> None:
        with self._lock:
            self.chaos = None

    def call_log(self, since: int = 0) -> dict:
        """Calls numbered from `since` on (0: the oldest kept), and the number to ask for next."""
        with self._lock:
            first = self._logged - len(self._log)
            start = max(since, first) - first
            calls = [dict(e) for e in list(self._log)[start:]]  # copies: `generated` writes on
            return {"calls": calls, "next": self._logged}

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
            self._log.clear()
            self._logged = 0
            self._epoch += 1
            self.chaos = None
            self._model_calls.clear()
            self.refused_keys = frozenset()
            self._generated = _generated()


def _generated() -> defaultdict[str, defaultdict[str, Counter]]:
    return defaultdict(lambda: defaultdict(Counter))
