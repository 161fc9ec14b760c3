"""Where per-agent usage is counted; limits.py decides what is counted, and when.

Counts are shared by every worker on every machine: in Redis when REDIS_URL is set (one Lua
script per check, so a check and its count are one step), otherwise on the agent's own
database row, changed only by single conditional UPDATEs. Either way two workers at once can
never both take the last request of a minute.

What no limit depends on is buffered (buffers.py): the tokens of a key without a daily token
limit, and the requests of a key without any limit, are written with the health successes every
LLM_SUCCESS_FLUSH_S, so a chat through such a key costs no write of its own. Usage shown for
those keys may lag by that interval, and a killed worker loses at most that much of it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Greatest

from llmfallback.health.buffers import WriteBuffer
from llmfallback.models import AgentKey
from llmfallback.ops import shared_cache

WINDOW_S = 60  # the requests-per-minute window (tests shorten it)
DAY_S = 86_400  # UTC days: epoch seconds divide evenly into them


@dataclass(frozen=True)
class Usage:
    requests_this_minute: int
    tokens_today: int
    requests_total: int
    tokens_total: int


class UsageBuffer(WriteBuffer):
    """(agent, tokens, requests, now) usage, summed per agent, day and minute when written."""

    name = "llm-agent-usage"

    def write(self, items: list) -> None:
        sums: dict = defaultdict(lambda: [0, 0])
        agents = {}
        for agent, tokens, requests, now in items:
            group = (agent.pk, _day(now), _minute(now))
            agents[group] = (agent, now)
            sums[group][0] += tokens
            sums[group][1] += requests
        counter = counter_for()
        for group, (tokens, requests) in sorted(sums.items()):
            agent, now = agents[group]
            counter.add(agent, tokens, now, requests=requests)


_buffers: dict[float, UsageBuffer] = {}


def usage_buffer() -> UsageBuffer | None:
    """The buffer of usage no limit depends on, or None when LLM_SUCCESS_FLUSH_S is not positive."""
    interval = settings.LLM_SUCCESS_FLUSH_S
    if interval <= 0:
        return None
    if interval not in _buffers:
        _buffers[interval] = UsageBuffer(interval)
    return _buffers[interval]


def _minute(now: float) -> int:
    return int(now // WINDOW_S)


def _day(now: float) -> int:
    return int(now // DAY_S)


class DbCounter:
    """Counts on the AgentKey row: each change is one UPDATE, atomic on SQLite and PostgreSQL."""

    def admit(self, agent: AgentKey, now: float) -> str | None:
        """None when admitted (and counted), else which limit refused it: "tokens", "requests"."""
        rpm, tpd = agent.rpm_limit, agent.tokens_per_day
        if tpd == 0 or rpm == 0:
            return "tokens" if tpd == 0 else "requests"
        w, d = _minute(now), _day(now)
        newer = Q(minute_window__lt=w)  # the row still holds an older minute: start afresh
        rows = AgentKey.objects.filter(pk=agent.pk)
        if rpm is not None:
            rows = rows.filter(newer | Q(minute_requests__lt=rpm))
        if tpd is not None:
            rows = rows.filter(Q(day_window__lt=d) | Q(day_tokens__lt=tpd))
        if rows.update(**self._request_counted(w)):
            return None
        return "tokens" if tpd is not None and self._tokens_today(agent, now) >= tpd else "requests"

    @staticmethod
    def _request_counted(w: int, n: int = 1) -> dict:
        # A worker whose clock lags counts into the newer minute already stored (Greatest)
        # rather than setting the window back and starting a second count.
        newer = Q(minute_window__lt=w)
        return {
            "minute_requests": Case(When(newer, then=Value(n)), default=F("minute_requests") + n),
            "minute_window": Greatest(F("minute_window"), Value(w)),
            "requests_total": F("requests_total") + n,
        }

    def refused(self, agent: AgentKey) -> None:
        AgentKey.objects.filter(pk=agent.pk).update(requests_total=F("requests_total") + 1)

    def _tokens_today(self, agent: AgentKey, now: float) -> int:
        row = AgentKey.objects.filter(pk=agent.pk).values("day_window", "day_tokens").first()
        return row["day_tokens"] if row and row["day_window"] == _day(now) else 0

    def add(self, agent: AgentKey, tokens: int, now: float, *, requests: int) -> None:
        d = _day(now)
        newer = Q(day_window__lt=d)
        AgentKey.objects.filter(pk=agent.pk).update(
            day_tokens=Case(When(newer, then=Value(tokens)), default=F("day_tokens") + tokens),
            day_window=Greatest(F("day_window"), Value(d)),
            tokens_total=F("tokens_total") + tokens,
            **(self._request_counted(_minute(now), requests) if requests else {}),
        )

    def usage(self, agent: AgentKey, now: float) -> Usage:
        return Usage(
            requests_this_minute=agent.minute_requests
            if agent.minute_window == _minute(now)
            else 0,
            tokens_today=agent.day_tokens if agent.day_window == _day(now) else 0,
            requests_total=agent.requests_total,
            tokens_total=agent.tokens_total,
        )


# KEYS: this minute's requests, all requests, today's tokens.
# ARGV: requests per minute, tokens per day (-1: no limit), the minute counter's lifetime.
# Returns 0 when admitted (and counted), 1 over the requests, 2 over the tokens.
_ADMIT = """
local rpm, tpd = tonumber(ARGV[1]), tonumber(ARGV[2])
if tpd >= 0 and tonumber(redis.call('GET', KEYS[3]) or '0') >= tpd then return 2 end
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if rpm >= 0 and n >= rpm then return 1 end
redis.call('INCR', KEYS[1])
if n == 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
redis.call('INCR', KEYS[2])
return 0
"""


class RedisCounter:
    """Counts in Redis, keys per agent and window that expire on their own.

    If Redis cannot be reached the request is admitted and the failure logged: the gateway
    stays up for agents, and the limits hold again as soon as Redis is back. Short socket
    timeouts and a failure remembered for REDIS_RETRY_S (ops/shared_cache.py) keep a Redis that
    never answers from costing every request a wait.
    """

    def __init__(self, url: str):
        import redis

        timeout = settings.REDIS_TIMEOUT_S
        self.redis = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self.errors = redis.RedisError
        self.script = self.redis.register_script(_ADMIT)
        self.breaker = shared_cache.breaker(f"redis:{url}")

    def _key(self, agent: AgentKey, what: str) -> str:
        # The hash tag keeps one agent's keys in one slot of a Redis cluster; a prefix of the
        # key's hash (not its id) so databases sharing a Redis never share counters.
        return f"d8:limits:{{{agent.key_hash[:16]}}}:{what}"

    def _keys(self, agent: AgentKey, now: float) -> list[str]:
        what = [f"rpm:{_minute(now)}", "requests", f"tpd:{_day(now)}", "tokens"]
        return [self._key(agent, w) for w in what]

    def _run(self, what: str, action, otherwise=None):
        """`action()`, or `otherwise` when Redis fails (now, or within REDIS_RETRY_S)."""
        if self.breaker.open():
            return otherwise
        try:
            return action()
        except self.errors:
            self.breaker.failed(f"Redis unreachable: {what}")
            return otherwise

    def admit(self, agent: AgentKey, now: float) -> str | None:
        limits = [-1 if v is None else v for v in (agent.rpm_limit, agent.tokens_per_day)]
        keys = self._keys(agent, now)[:3]
        over = self._run(
            "request admitted without its limit check",
            lambda: self.script(keys=keys, args=[*limits, 2 * WINDOW_S]),
            0,
        )
        return {0: None, 1: "requests", 2: "tokens"}[int(over)]

    def refused(self, agent: AgentKey) -> None:
        self._run(
            "a refused request not counted", lambda: self.redis.incr(self._key(agent, "requests"))
        )

    def add(self, agent: AgentKey, tokens: int, now: float, *, requests: int) -> None:
        minute, all_requests, day, total = self._keys(agent, now)

        def count():
            with self.redis.pipeline() as pipe:  # MULTI/EXEC: all of it or nothing
                pipe.incrby(day, tokens).expire(day, 2 * DAY_S).incrby(total, tokens)
                if requests:
                    pipe.incrby(minute, requests).expire(minute, 2 * WINDOW_S)
                    pipe.incrby(all_requests, requests)
                pipe.execute()

        self._run(f"{tokens} tokens not counted", count)

    def usage(self, agent: AgentKey, now: float) -> Usage:
        names = [f"rpm:{_minute(now)}", f"tpd:{_day(now)}", "requests", "tokens"]
        keys = [self._key(agent, n) for n in names]
        values = self._run("usage unknown", lambda: self.redis.mget(keys), [None] * 4)
        return Usage(*(int(v or 0) for v in values))


_counters: dict[str, object] = {}


def counter_for():
    """The counter for the configured store: Redis when REDIS_URL is set, else the database."""
    url = settings.REDIS_URL or ""
    if url not in _counters:
        _counters[url] = RedisCounter(url) if url else DbCounter()
    return _counters[url]
