"""Chaos mode: a seeded schedule of short fault bursts per provider, one provider always healthy.

A drill starts it through the control API (POST /_sim/chaos). Every chat request that no script
step claims is answered by the schedule: the fault of the burst covering its arrival, else a
normal answer. The schedule ends by itself after `duration_s`; afterwards every provider is fine.

Why one "anchor" holds the line rather than any provider between bursts: the gateway rightly
cools a provider for 10-300 s after a 1 s fault (PROVIDERS.md), so a provider that faulted a
moment ago is healthy at the socket but not yet callable. A provider only counts as healthy for
the drill when it has been fault-free for `calm_s` before its turn as anchor and during it.
"""

from __future__ import annotations

import bisect
import random
import time
from dataclasses import asdict, dataclass, field

PROVIDERS = ("groq", "gemini", "deepseek")
MAX_DURATION_S = 3600.0
MAX_STALL_S = 120.0
MIN_SPAN_S = 0.05  # shortest burst or gap: keeps an hour's plan to some ten thousand bursts

# Fault classes and their weight in the random mix. Quota is rare: a real quota cools a provider
# for minutes to hours, so one hit takes it out of the rest of the run. Auth is absent: an auth
# failure makes a provider unavailable until a human resets it (see `bad_keys` instead).
WEIGHTS = {
    "rate_limit": 1.0,
    "quota": 0.25,
    "unavailable": 1.0,
    "edge_page": 1.0,
    "hang": 0.5,
    "trickle": 0.5,
    "slow_headers": 0.5,
    "malformed": 1.0,
    "truncated": 1.0,
    "error_in_200": 1.0,
    "empty": 1.0,
}


@dataclass(frozen=True)
class Burst:
    """`provider` answers with `fault` to requests arriving in [start, end) (seconds into the run)."""

    provider: str
    start: float
    end: float
    fault: str
    variant: str = ""


@dataclass(frozen=True)
class Anchor:
    """`provider` has no fault in [start, end), nor in the calm_s before start."""

    provider: str
    start: float
    end: float


@dataclass(frozen=True)
class ChaosConfig:
    seed: int = 0
    duration_s: float = 120.0
    providers: tuple[str, ...] = PROVIDERS
    burst_s: tuple[float, float] = (1.0, 2.0)  # each burst lasts a second or two
    gap_s: tuple[float, float] = (2.0, 8.0)  # fault-free time between two bursts of a provider
    anchor: str | None = None  # the first anchor (default: drawn from the seed)
    hold_s: float = 3600.0  # how long one anchor holds the line (default: the whole run)
    calm_s: float = 300.0  # fault-free time before a provider may become the anchor
    stall_s: float = 30.0  # how long a hang, trickle or slow header phase holds a connection
    faults: dict[str, float] = field(default_factory=lambda: dict(WEIGHTS))
    bad_keys: tuple[str, ...] = ()  # key fingerprints answered with `auth` for the whole run
    # Providers whose quota errors name a short reset (Groq's rolling "tokens per day" window:
    # "Please try again in 1.2s"). Gemini's per-day quota and DeepSeek's 402 mean hours of
    # rest: one would take a provider out of the run, so they are not drawn by default.
    quota_providers: tuple[str, ...] = ("groq",)

    @classmethod
    def from_json(cls, data: dict) -> ChaosConfig:
        """Validated config from the control API's JSON; raises ValueError with a clear message."""
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown chaos options: {', '.join(sorted(unknown))}")
        values = dict(data)
        for name in ("providers", "burst_s", "gap_s", "bad_keys", "quota_providers"):
            if name in values:
                values[name] = tuple(values[name])
        config = cls(**values)
        config.check()
        return config

    def check(self) -> None:
        if not 0 < self.duration_s <= MAX_DURATION_S:
            raise ValueError(f"duration_s must be in (0, {MAX_DURATION_S}]")
        if not 2 <= len(self.providers) <= 16:
            raise ValueError("chaos needs 2 to 16 providers: one always stays healthy")
        for name in ("burst_s", "gap_s"):
            low, high = getattr(self, name)
            if not MIN_SPAN_S <= low <= high:
                raise ValueError(f"{name} must be [low, high] with {MIN_SPAN_S} <= low <= high")
        if not 0 < self.stall_s <= MAX_STALL_S:
            raise ValueError(f"stall_s must be in (0, {MAX_STALL_S}]")
        if self.anchor is not None and self.anchor not in self.providers:
            raise ValueError(f"anchor must be one of {', '.join(self.providers)}")
        if self.hold_s < 1 or self.calm_s < 0:
            raise ValueError("hold_s must be 1 s or more and calm_s not negative")
        bad = set(self.faults) - set(WEIGHTS)
        weights = list(self.faults.values())
        if bad or any(w < 0 for w in weights) or not any(w > 0 for w in weights):
            raise ValueError(f"faults: weights for some of {', '.join(WEIGHTS)}")


VARIANTS = {
    "unavailable": {
        "groq": ("json503", "json500", "flex498"),
        "gemini": ("overloaded", "json500"),
        "deepseek": ("json503", "json500"),
    },
    "edge_page": ("text503", "cloudflare502"),
    "trickle": ("blank", "comment"),
    "empty": ("no_choices", "empty_content"),
}


@dataclass(frozen=True)
class Plan:
    config: ChaosConfig
    anchors: list[Anchor]
    bursts: list[Burst]

    def as_dict(self) -> dict:
        return {
            "config": asdict(self.config),
            "anchors": [asdict(a) for a in self.anchors],
            "bursts": [asdict(b) for b in self.bursts],
        }


def plan(config: ChaosConfig) -> Plan:
    """The whole schedule, from the seed alone: the same config always gives the same plan."""
    rng = random.Random(config.seed)
    anchors = _anchors(config, rng)
    bursts = []
    for provider in config.providers:
        quiet = [(a.start - config.calm_s, a.end) for a in anchors if a.provider == provider]
        bursts += _bursts(config, provider, quiet, rng)
    bursts.sort(key=lambda b: (b.start, b.provider))
    return Plan(config, anchors, bursts)


def _anchors(config: ChaosConfig, rng: random.Random) -> list[Anchor]:
    """Turns of hold_s each; the quiet time before a turn is enforced when bursts are drawn."""
    anchors, start, previous = [], 0.0, None
    while start < config.duration_s:
        end = min(start + config.hold_s, config.duration_s)
        provider = rng.choice([p for p in config.providers if p != previous])
        if not anchors and config.anchor:
            provider = config.anchor
        anchors.append(Anchor(provider, start, end))
        start, previous = end, provider
    return anchors


def _bursts(config, provider, quiet, rng) -> list[Burst]:
    bursts, t = [], rng.uniform(0, config.gap_s[0])  # the first burst comes early
    mix = [(n, w) for n, w in config.faults.items() if w > 0]
    if provider not in config.quota_providers:
        mix = [(n, w) for n, w in mix if n != "quota"] or mix
    names, weights = zip(*mix, strict=True)
    while t < config.duration_s:
        length = rng.uniform(*config.burst_s)
        end = min(t + length, config.duration_s)
        if not any(q_start < end and t < q_end for q_start, q_end in quiet):
            fault = rng.choices(names, weights)[0]
            bursts.append(Burst(provider, t, end, fault, _variant(fault, provider, rng)))
        t = end + rng.uniform(*config.gap_s)
    return bursts


def _variant(fault: str, provider: str, rng: random.Random) -> str:
    options = VARIANTS.get(fault, ())
    if isinstance(options, dict):
        options = options.get(provider, ("json503",))
    return rng.choice(options) if options else ""


class Chaos:
    """A running plan: which burst, if any, covers a request arriving now."""

    def __init__(self, plan: Plan, clock=time.monotonic, wall=time.time):
        self.plan = plan
        self._clock = clock
        self.started_mono = clock()
        self.started_at = wall()
        self._by_provider: dict[str, list[Burst]] = {}
        for b in plan.bursts:
            self._by_provider.setdefault(b.provider, []).append(b)
        self._starts = {p: [b.start for b in bs] for p, bs in self._by_provider.items()}

    def elapsed(self) -> float:
        return self._clock() - self.started_mono

    def over(self) -> bool:
        return self.elapsed() >= self.plan.config.duration_s

    def burst_now(self, provider: str) -> tuple[Burst, float] | None:
        """(burst, seconds it has left) for a request to `provider` arriving now."""
        t = self.elapsed()
        bursts = self._by_provider.get(provider, [])
        i = bisect.bisect_right(self._starts.get(provider, []), t) - 1
        if i >= 0 and bursts[i].start <= t < bursts[i].end:
            return bursts[i], bursts[i].end - t
        return None

    def as_dict(self) -> dict:
        out = self.plan.as_dict()
        elapsed = self.elapsed()
        return out | {"started_at": self.started_at, "elapsed_s": elapsed, "over": self.over()}
