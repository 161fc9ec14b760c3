"""Streaming fallback: the engine's decisions, applied to an answer that arrives in pieces.

Until the first token reaches the caller nothing is promised, so any failure (an HTTP error, an
error inside a 200 stream, the attempt budget, a first-token timeout, an empty answer) is handled
exactly as FallbackEngine.chat handles it: classified, recorded, retried or fallen back from.
Once a token is out, the answer cannot change hands: a stall, a stream that runs past its total
limit, or a failure ends the stream with StreamFailed (the caller sees an explicit error event,
never a truncated stream that looks whole), and the failure is recorded in health like any other.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from math import inf

from .engine import FallbackEngine, _attempt, _blocked, _Call, _Probe, _Skip
from .errors import ContentFiltered, InvalidResponse, ProviderError, ProviderTimeout, Unavailable
from .ports import ApiKey
from .stream_events import Delta, StreamDone, StreamEnd, StreamFailed, StreamStart
from .types import Attempt, ChatRequest, Timeouts, Usage

FINISH_REASONS = frozenset({"stop", "length", "tool_calls", "content_filter"})


@dataclass(frozen=True, slots=True)
class StreamSettings:
    first_token_timeout_s: float = 20.0  # one attempt: request sent -> first token
    stall_s: float = 30.0  # after the first token: longest wait for more content
    # The whole stream, from the request's start: a provider trickling one token just within
    # stall_s would otherwise hold the caller and a worker thread for ever.
    max_s: float = 300.0


@dataclass
class _StreamCall(_Call):
    ends_at: float = inf  # past this the stream ends with StreamFailed, however steady


class StreamingEngine(FallbackEngine):
    """FallbackEngine's providers, store, policy and clock, streaming instead of answering whole.

    Providers need a `stream(request, *, key, timeouts, stall_s)` generator yielding Delta and
    a final StreamEnd, raising ProviderError subclasses (providers.base.HTTPProvider.stream).
    """

    def __init__(self, *args, stream_settings: StreamSettings | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.stream_settings = stream_settings or StreamSettings()

    def stream(self, request: ChatRequest) -> Iterator:
        """Yield StreamStart, Deltas, then StreamDone or StreamFailed.

        Raises AllProvidersFailed or CallerError, before yielding anything, when no provider
        produced a first token.
        """
        now = self.clock()
        call = _StreamCall(
            request, now + self.settings.deadline_s, ends_at=now + self.stream_settings.max_s
        )
        for provider in self.providers:
            if provider.missing:
                continue
            try:
                answered = yield from self._stream_provider(provider, call)
            except _Skip:
                continue
            if answered:
                return
            if self.clock() >= call.deadline:
                break
        raise self._failure(call)

    def _stream_provider(self, provider, call: _Call):
        probe = _Probe()
        try:
            for key in provider.keys:
                state = self.store.state(provider.name, key.label, now=self.clock())
                if not self._admits(provider, state, probe):
                    continue
                if (yield from self._stream_key(provider, key, call)):
                    probe.healthy = True
                    return True
            return False
        finally:
            self._end_probe(provider, probe)

    def _stream_key(self, provider, key: ApiKey, call: _Call):
        """One key, retried like FallbackEngine._try_key until a first token; True once streamed."""
        for retry in range(self.settings.max_retries_per_provider + 1):
            remaining = call.deadline - self.clock()
            if remaining <= 0:
                raise _Skip
            started, timeouts = self.clock(), self._first_token_timeouts(remaining)
            events = provider.stream(
                call.request, key=key, timeouts=timeouts, stall_s=self.stream_settings.stall_s
            )
            try:
                opening = self._until_first_token(events, call.request, started, timeouts)
            except ProviderError as error:
                events.close()
                if self._failed_before_token(provider, key, error, retry, call, started):
                    return False  # this key is spent; the provider's next key may still work
                continue
            yield from self._relay(provider, key, call, started, opening, events)
            return True
        raise _Skip

    def _failed_before_token(self, provider, key, error, retry, call, started) -> bool:
        """FallbackEngine's handling of a failed call; True: try the next key; raises _Skip to
        leave the provider (or CallerError); returns False after waiting to retry this key."""
        latency_ms = (self.clock() - started) * 1000
        call.attempts.append(_attempt(provider, key, error, latency_ms))
        wait = self._retry_wait(error, retry, call)
        state = self.store.state(provider.name, key.label, now=self.clock())
        self._fail(provider, key, error, latency_ms, state, final=wait is None)
        if self._after_failure(provider, error, call):
            return True
        if wait is None:
            raise _Skip
        self.sleep(wait)
        if _blocked(self.store.state(provider.name, key.label, now=self.clock()), self.clock()):
            raise _Skip  # another worker cooled it meanwhile: leave it be
        return False

    def _first_token_timeouts(self, remaining: float) -> Timeouts:
        t = self._timeouts(remaining)
        total = min(t.total, self.stream_settings.first_token_timeout_s)
        return Timeouts(connect=min(t.connect, total), read=min(t.read, total), total=total)

    def _until_first_token(self, events, request, started, timeouts: Timeouts) -> list[Delta]:
        """The provider's events up to its first token (whitespace before it included)."""
        opening: list[Delta] = []
        for event in events:
            if self.clock() - started > timeouts.total:
                raise ProviderTimeout(f"no first token within {timeouts.total:g}s")
            if isinstance(event, StreamEnd):
                raise _empty_answer(opening, request, event.finish_reason)
            opening.append(event)
            if event.is_token:
                return opening
        raise Unavailable("the stream ended before any answer", status=200)

    def _relay(self, provider, key: ApiKey, call: _StreamCall, started, opening, events):
        """Everything after the first token: relay, watch the limits, end one way or the other."""
        first_token_ms = (self.clock() - started) * 1000
        yield StreamStart(provider.name, provider.model, key.label, tuple(call.attempts))
        called = False
        try:
            for delta in opening:
                called = called or bool(delta.tool_calls)
                yield delta
            while True:
                event = self._next(events, call)
                if event is None:
                    raise Unavailable("the stream ended without finishing", status=200)
                if isinstance(event, StreamEnd):
                    yield self._done(provider, key, call, event, called, first_token_ms)
                    return
                called = called or bool(event.tool_calls)
                yield event
        except ProviderError as error:
            yield self._broken(provider, key, call, error, started)
        finally:
            events.close()  # the caller left, or we are done: release the connection

    def _next(self, events, call: _StreamCall):
        """The provider's next event (None at its end), or ProviderTimeout for a stall or a
        stream past its total limit."""
        asked = self.clock()  # the caller's own slowness is not the provider's stall
        event = next(events, None)
        now = self.clock()
        limits = self.stream_settings
        if now - asked > limits.stall_s:
            raise ProviderTimeout(f"stream stalled: no content for {limits.stall_s:g}s")
        if now > call.ends_at:
            raise ProviderTimeout(f"stream ran past its total limit of {limits.max_s:g}s")
        return event

    def _done(self, provider, key, call, end: StreamEnd, called, first_token_ms) -> StreamDone:
        # Health records the time to the first token: a stream's length is the answer's, not
        # the provider's speed.
        now = self.clock()
        self.store.record_success(provider.name, key.label, latency_ms=first_token_ms, now=now)
        call.attempts.append(Attempt(provider.name, key.label, None, 200, first_token_ms))
        finish = "tool_calls" if called else end.finish_reason
        return StreamDone(
            finish if finish in FINISH_REASONS else "stop",
            end.usage or Usage(),
            tuple(call.attempts),
        )

    def _broken(self, provider, key, call, error: ProviderError, started) -> StreamFailed:
        latency_ms = (self.clock() - started) * 1000
        call.attempts.append(_attempt(provider, key, error, latency_ms))
        state = self.store.state(provider.name, key.label, now=self.clock())
        self._fail(provider, key, error, latency_ms, state, final=True)
        return StreamFailed(error, tuple(call.attempts))


def _empty_answer(opening: list[Delta], request: ChatRequest, finish) -> ProviderError:
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
