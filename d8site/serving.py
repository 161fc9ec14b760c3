"""The web server's limits, read from the environment by d8site/gunicorn.conf.py, the worker
(d8site/gunicorn_worker.py), `manage.py serve` and the settings. README: "Capacity"."""

from __future__ import annotations

from dataclasses import dataclass

from d8site.env import flag

# Threads per worker: a chat waits seconds on its provider, and a waiting thread costs little
# memory and no CPU, so two workers keep a thousand agents' calls in flight (bench/capacity).
# More than half of 1,024: the kernel spreads connections among the workers' sockets by hash,
# not evenly (516 and 508 seen), and at 512 each the calls past a worker's threads waited a
# whole upstream latency in its queue: p99 10.0 s against a 5 s upstream, 6.2-6.7 s at 640.
THREADS = 640
RETRY_AFTER_S = 5  # what a 503 for overload tells the agent to wait
# How long a thread that wants the GIL waits before it makes the holder let go (CPython's 5 ms
# by default). Each waiting thread wakes at that pace: a burst of answers arriving at once
# (c=1024, a 1 s upstream) left hundreds of threads waiting, woken 200 times a second each, and
# a worker went from 42 context switches a request to 124-141 and twice the CPU, and stayed
# there. At 50 ms no run fell into it (docs/benchmarks.md, "The GIL's switch interval").
SWITCH_INTERVAL_S = 0.05


@dataclass(frozen=True)
class Limits:
    threads: int = THREADS
    queue: int = 512  # WEB_QUEUE: whole requests waiting for a thread, per worker
    queue_wait_s: float = 10.0  # WEB_QUEUE_WAIT_S: waited longer, 503 instead of a provider call
    read_timeout_s: float = 5.0  # WEB_READ_TIMEOUT_S: a connection's time to send a whole request
    slow_per_address: int = 64  # WEB_SLOW_PER_ADDRESS: connections sending for over 1 s, per client
    accept_soft: int = (
        32  # WEB_ACCEPT_SOFT: past this many requests, leave new ones to idle workers
    )
    retry_after_s: int = RETRY_AFTER_S
    stream_relay: bool = True  # WEB_STREAM_RELAY: streams past their first chunk to one loop
    switch_interval_s: float = SWITCH_INTERVAL_S  # WEB_SWITCH_INTERVAL_S: sys.setswitchinterval

    @classmethod
    def from_env(cls, environ) -> Limits:
        def number(name, kind, default):
            raw = (environ.get(name) or "").strip()
            if not raw:
                return default
            try:
                value = kind(raw)
            except ValueError:
                raise ValueError(f"{name} must be a number, not {raw!r}") from None
            if value < 0:
                raise ValueError(f"{name} must not be negative, not {raw!r}")
            return value

        return cls(
            threads=number("WEB_THREADS", int, THREADS) or THREADS,
            queue=number("WEB_QUEUE", int, cls.queue),
            queue_wait_s=number("WEB_QUEUE_WAIT_S", float, cls.queue_wait_s),
            read_timeout_s=number("WEB_READ_TIMEOUT_S", float, cls.read_timeout_s) or 5.0,
            slow_per_address=number("WEB_SLOW_PER_ADDRESS", int, cls.slow_per_address),
            accept_soft=number("WEB_ACCEPT_SOFT", int, cls.accept_soft),
            stream_relay=flag(environ.get("WEB_STREAM_RELAY") or "", cls.stream_relay),
            switch_interval_s=number("WEB_SWITCH_INTERVAL_S", float, SWITCH_INTERVAL_S)
            or SWITCH_INTERVAL_S,
        )

    @property
    def connections(self) -> int:
        """gunicorn's worker_connections: requests in threads and queued, and as many again
        kept alive or still sending."""
        return 2 * (self.threads + self.queue) + 1024
