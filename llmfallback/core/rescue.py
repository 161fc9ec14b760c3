"""What a broken stream's rescue needs: the text already sent, how the next provider continues
it, and the account of which provider served which part.

Modes, per provider: "fresh" (nothing sent yet), "prefill" (the provider takes the text sent as
an assistant prefill and continues it: its `prefill` capability, providers/capabilities.py) and
"splice" (it is asked again; only what follows the text sent is relayed, when its new answer
begins with that text: core/splice.py). Tool-call pieces cannot be continued: once one is sent,
a break ends the stream with an explicit error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from math import inf

from .call_state import Call
from .errors import (
    CallerError,
    ContentFiltered,
    ErrorKind,
    InvalidResponse,
    ProviderError,
)
from .splice import Splicer
from .stream_events import Delta, Served, StreamDone
from .types import Attempt, ChatRequest, Usage

FRESH, PREFILL, SPLICE = "fresh", "prefill", "splice"
FINISH_REASONS = frozenset({"stop", "length", "tool_calls", "content_filter"})
DONE = object()  # the stream finished
MISMATCH = object()  # a restarted answer that does not begin with the text sent
CONTINUATION_REFUSED = CallerError  # a provider refused the continuation request itself


@dataclass
class StreamCall(Call):
    """What one streamed call has seen and sent so far."""

    ends_at: float = inf  # past this the stream ends, however steady
    started: bool = False  # StreamStart went out
    text: list[str] = field(default_factory=list)  # the answer's text sent, in pieces
    called: bool = False  # tool-call pieces went out
    broken: ProviderError | None = None  # the failure that broke the stream first
    no_prefill: set[str] = field(default_factory=set)  # providers that refused a prefill
    served: list[Served] = field(default_factory=list)
    usages: list[Usage] = field(default_factory=list)

    @property
    def sent(self) -> str:
        return "".join(self.text)


def can_continue(call: StreamCall) -> bool:
    """A broken stream may be continued unless tool-call pieces went out (they cannot be)."""
    return not call.called


def mode_for(provider, call: StreamCall) -> str:
    if call.broken is None:
        return FRESH
    takes_prefill = "prefill" in getattr(provider, "capabilities", ())
    return PREFILL if takes_prefill and provider.name not in call.no_prefill else SPLICE


def request_for(call: StreamCall, mode: str) -> ChatRequest:
    return replace(call.request, prefill=call.sent) if mode == PREFILL else call.request


def prefill_refused(mode: str, error: ProviderError) -> bool:
    """A 400 to a prefill: the provider does not take one (whatever it says it supports). The
    caller never sees it; the same provider is asked again without the prefill."""
    return mode == PREFILL and error.kind is ErrorKind.BAD_REQUEST


def chain(opening: list, after: Callable[[], object]) -> Iterator:
    """The opening events, then `after()` for each next one (it raises at the stream's end)."""
    yield from opening
    while True:
        yield after()


class Part:
    """One provider's share of the stream: what it adds to the text, spliced where asked."""

    def __init__(self, call: StreamCall, provider, key, mode: str) -> None:
        self.call, self.provider, self.key, self.mode = call, provider, key, mode
        self.start = len(call.sent)
        self.splicer = Splicer(call.sent) if mode == SPLICE else None
        self.closed = False

    def feed(self, delta: Delta):
        """The Delta to relay, None (nothing to relay yet) or MISMATCH."""
        if self.splicer is not None:
            if delta.tool_calls:
                return MISMATCH  # the first answer had none, or it would not be continued
            text = self.splicer.feed(delta.content)
            if self.splicer.matched is False:
                return MISMATCH
            if not text:
                return None
            delta = Delta(text, usage=delta.usage)
        self._sent(delta)
        return delta

    def end(self):
        """At the provider's StreamEnd: a last Delta, None, or MISMATCH."""
        if self.splicer is None or self.splicer.matched:
            return None
        tail = self.splicer.finish()
        if not self.splicer.matched:
            return MISMATCH
        if not tail:
            return None
        delta = Delta(tail)
        self._sent(delta)
        return delta

    def close(self, usage: Usage | None = None) -> None:
        """Account for this part (once), whether the stream finished or broke."""
        if self.closed:
            return
        self.closed = True
        if usage is not None:
            self.call.usages.append(usage)
        chars = len(self.call.sent) - self.start
        if chars or usage is not None:
            self.call.served.append(
                Served(
                    self.provider.name,
                    self.provider.model,
                    self.key.label,
                    self.mode,
                    self.start,
                    chars,
                )
            )

    def _sent(self, delta: Delta) -> None:
        if delta.content:
            self.call.text.append(delta.content)
        self.call.called = self.call.called or bool(delta.tool_calls)


def done(call: StreamCall, end) -> StreamDone:
    finish = "tool_calls" if call.called else end.finish_reason
    return StreamDone(
        finish if finish in FINISH_REASONS else "stop",
        _added(call.usages),
        tuple(call.attempts),
        tuple(call.served),
    )


def _added(usages: list[Usage]) -> Usage:
    return Usage(
        sum(u.prompt_tokens for u in usages),
        sum(u.completion_tokens for u in usages),
        sum(u.total_tokens for u in usages),
    )


def mismatch_attempt(provider, key, latency_ms: float) -> Attempt:
    return Attempt(
        provider.name,
        key.label,
        "not_continued",
        200,
        latency_ms,
        "its new answer did not begin with the text already sent",
        refused=True,
    )


def empty_answer(opening: list, request: ChatRequest, finish) -> ProviderError:
    """Why a stream that finished without a token is no answer (as signals.check_text says it
    for whole answers): blocked, out of tokens, blank JSON, or simply empty."""
    if finish == "content_filter":
        return ContentFiltered("answer blocked (finish_reason content_filter)", code=finish)
    if finish == "length":
        return InvalidResponse(
            "max_tokens ran out before any text (finish_reason length)",
            status=200,
            request_only=True,
        )
    if request.json_mode and opening:
        return InvalidResponse("json_mode answer is blank", status=200, request_only=True)
    return InvalidResponse(f"no text in the stream (finish_reason {finish})", status=200)
