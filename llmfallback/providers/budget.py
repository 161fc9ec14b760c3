"""One attempt's budget: its deadline, the idle limit once the body starts, and the phase it
is in, held in a ContextVar for the network layer (transport.py) to cap every operation by.

`attempt_budget` sets it for one call; a stream, which holds it across its yields, runs in a
context of its own (`in_own_context`). ContentProgress says which body bytes reset the idle limit.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import time
import typing
from collections.abc import Callable, Generator, Iterator
from contextvars import ContextVar

import httpx


class Budget:
    """One attempt's clock: a hard deadline, an idle limit once the body starts, the phase."""

    __slots__ = ("clock", "deadline", "idle", "idle_until", "phase", "started", "total")

    def __init__(self, total: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.total = total
        self.started = clock()
        self.deadline = self.started + total
        self.idle = math.inf  # the body's limit without a content byte (the read timeout)
        self.idle_until = math.inf
        self.phase = ""  # dns, connect, tls, write, headers, body: named in timeout messages

    def cap(
        self, timeout: float | None, error: type[Exception], *, when_spent: float | None = None
    ) -> float | None:
        """`timeout` capped at what is left; when nothing is, `when_spent` if given (a read's
        0: take what has arrived, without waiting), else `error` at once."""
        left = min(self.deadline, self.idle_until) - self.clock()
        if left <= 0:
            if when_spent is not None:
                return when_spent
            raise error(f"{self.phase or 'call'}: attempt budget spent")
        if timeout is not None and timeout <= left:
            return timeout
        return None if left == math.inf else left

    def start_body(self, *, idle: float) -> None:
        self.phase, self.idle = "body", idle
        self.idle_until = self.clock() + idle

    def progressed(self, now: float) -> None:
        """A content byte arrived: the idle limit starts again."""
        self.idle_until = now + self.idle

    def expired(self, now: float) -> str:
        """Which limit has run out at `now`, or ""."""
        if now >= self.deadline:
            return f"total deadline of {self.total:g}s exceeded"
        if now >= self.idle_until:
            return f"no content for {self.idle:g}s; blank lines and comments are not progress"
        return ""

    def timed_out(self, error: Exception | None = None) -> str:
        """The message of a ProviderTimeout: the phase, the time spent, the limit that ran out."""
        now = self.clock()
        phase = self.phase or _PHASES.get(type(error), "call")
        why = self.expired(now) or f"{type(error).__name__}: {error}"
        return f"{phase} timed out after {now - self.started:.2f}s ({why})"


# The phase of a timeout raised where no DeadlineStream named it (a MockTransport, the pool).
_PHASES = {
    httpx.ConnectTimeout: "connect",
    httpx.WriteTimeout: "write",
    httpx.ReadTimeout: "headers",
    httpx.PoolTimeout: "pool",
}
_budget: ContextVar[Budget | None] = ContextVar("llmfallback_attempt_budget", default=None)
current_budget = _budget.get  # the running attempt's Budget, or None outside one
T = typing.TypeVar("T")
R = typing.TypeVar("R")


@contextlib.contextmanager
def attempt_budget(total: float, clock: Callable[[], float] = time.monotonic) -> Iterator[Budget]:
    """Hold every network operation of this thread's calls to `total` seconds from now."""
    budget = Budget(total, clock)
    token = _budget.set(budget)
    try:
        yield budget
    finally:
        _budget.reset(token)


def in_own_context(steps: Generator[T, None, R]) -> Generator[T, None, R]:
    """`steps`, each run in a context of its own, for a generator that holds an attempt budget
    across its yields (a stream). Run in the caller's context, the budget it sets would stay set
    there while it is suspended, for whatever the caller's thread does meanwhile, and a stream
    left unfinished would reset it only when collected: a later call in that thread read a
    budget long spent. Here the budget is the stream's alone, and closing it, even from the
    garbage collector in another thread, resets it where it was set."""
    context = contextvars.copy_context()
    try:
        item = context.run(next, steps)
        while True:
            try:
                yield item
            except GeneratorExit:
                context.run(steps.close)
                raise
            except BaseException as error:  # thrown in by the caller: into the stream
                item = context.run(steps.throw, error)
            else:
                item = context.run(next, steps)
    except StopIteration as end:
        return end.value


class ContentProgress:
    """Whether body bytes carry content. Blank lines and SSE ': comment' lines before the
    answer (DeepSeek's keep-alive) do not; nor does whitespace after it starts."""

    __slots__ = ("comment", "fresh", "started")

    def __init__(self) -> None:
        self.started = False
        self.comment = False  # the current line is a ': comment'
        self.fresh = True  # nothing of the current line seen yet

    def feed(self, chunk: bytes) -> bool:
        if self.started:
            return not chunk.isspace() and bool(chunk)
        for n, part in enumerate(chunk.split(b"\n")):
            if n:  # a newline ended the previous line
                self.comment, self.fresh = False, True
            if not part:
                continue
            if self.fresh:
                self.comment, self.fresh = part.startswith(b":"), False
            if not self.comment and part.strip():
                self.started = True
                return True
        return False
