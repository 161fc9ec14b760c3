"""Streaming fallback: the engine's decisions, applied to an answer that arrives in pieces.

Until the first token reaches the caller nothing is promised, so any failure (an HTTP error, an
error inside a 200 stream, the attempt budget, a first-token timeout, an empty answer) is handled
exactly as FallbackEngine.chat handles it: classified, recorded, retried or fallen back from.

Once tokens are out, a stream that breaks (cut, stalled, a malformed or error event, a stream past
its total limit) is recorded as that provider's failure and continued on the next provider inside
the same response (core/rescue.py): by an assistant prefill of the text already sent where the
provider takes one, else by asking again and relaying only what follows that text. Where no
provider can continue it, or tool-call pieces were already sent, the stream ends with
StreamFailed carrying the original failure: an explicit error, never a cut answer that looks whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from . import rescue
from .call_state import Probe, Skip, attempt_of, blocked
from .engine import FallbackEngine
from .errors import ProviderError, ProviderTimeout, Unavailable
from .first_token import FirstTokenLimit
from .ports import ApiKey
from .stream_events import StreamEnd, StreamFailed, StreamResumed, StreamStart
from .types import Attempt, ChatRequest, Timeouts


@dataclass(frozen=True, slots=True)
class StreamSettings:
    # One attempt, request sent -> first token, for an ordinary prompt; it grows with the
    # prompt's size and the provider's observed time to first token (core/first_token.py).
    first_token_timeout_s: float = 10.0
    # After the first token: the longest wait for more content. Keep-alive comments and blank
    # lines are not content.
    stall_s: float = 10.0
    # The whole stream, from the request's start: a provider trickling one token just within
    # stall_s would otherwise hold the caller and a worker thread for ever.
    max_s: float = 300.0


class StreamingEngine(FallbackEngine):
    """FallbackEngine's providers, store, policy and clock, streaming instead of answering whole.

    Providers need a `stream(request, *, key, timeouts, stall_s)` generator yielding Delta and
    a final StreamEnd, raising ProviderError subclasses (providers.base.HTTPProvider.stream).
    """

    def __init__(
        self,
        *args,
        stream_settings: StreamSettings | None = None,
        first_token: FirstTokenLimit | None = None,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.stream_settings = stream_settings or StreamSettings()
        self.first_token = first_token or FirstTokenLimit(
            self.stream_settings.first_token_timeout_s
        )

    def stream(self, request: ChatRequest) -> Iterator:
        """Yield StreamStart, Deltas (StreamResumed where another provider took over), then
        StreamDone or StreamFailed.

        Raises AllProvidersFailed or CallerError, before yielding anything, when no provider
        produced a first token.
        """
        now = self.clock()
        call = rescue.StreamCall(
            request, now + self.settings.deadline_s, ends_at=now + self.stream_settings.max_s
        )
        live = [p for p in self.providers if not p.missing]
        for index, provider in enumerate(live):
            call.more = index < len(live) - 1
            if call.broken is not None and not rescue.can_continue(call):
                break
            try:
                outcome = yield from self._stream_provider(provider, call)
            except Skip:
                continue
            except rescue.CONTINUATION_REFUSED:
                if call.broken is None:
                    raise
                continue  # this provider refused the continuation itself: try the next
            if outcome is rescue.DONE:
                return
            if isinstance(outcome, ProviderError) and call.broken is None:
                call.broken = outcome
                # The rescue gets a deadline of its own; the stream's total limit still holds.
                call.deadline = min(self.clock() + self.settings.deadline_s, call.ends_at)
            if self.clock() >= call.deadline:
                break
        if call.broken is not None:
            yield StreamFailed(call.broken, tuple(call.attempts))
            return
        raise self._failure(call)

    def _stream_provider(self, provider, call: rescue.StreamCall):
        """DONE, the ProviderError that broke the stream, or None (no key of it answered)."""
        probe = Probe()
        try:
            for key in provider.keys:
                state = self.store.state(provider.name, key.label, now=self.clock())
                if not self._admits(provider, state, probe):
                    continue
                outcome = yield from self._stream_key(provider, key, call, probe)
                if outcome is not None:
                    return outcome
            return None
        finally:
            self._end_probe(provider, probe)

    def _stream_key(self, provider, key: ApiKey, call: rescue.StreamCall, probe):
        """One key, retried like FallbackEngine._try_key until a first token."""
        retry = 0
        while retry <= self.settings.max_retries_per_provider:
            remaining = call.deadline - self.clock()
            if remaining <= 0:
                raise Skip
            mode = rescue.mode_for(provider, call)
            request = rescue.request_for(call, mode)
            started = self.clock()
            timeouts = self._first_token_timeouts(provider, request, remaining, call)
            events = provider.stream(
                request, key=key, timeouts=timeouts, stall_s=self.stream_settings.stall_s
            )
            try:
                opening = self._until_first_token(
                    events, request, started, timeouts, mode, timed=_times_its_reads(provider)
                )
            except ProviderError as error:
                events.close()
                if rescue.prefill_refused(mode, error):
                    call.attempts.append(attempt_of(provider, key, error, self._ms(started)))
                    call.no_prefill.add(provider.name)
                    continue  # ask again without the prefill: not a retry, not a failure
                if self._failed_before_token(provider, key, error, retry, call, started, probe):
                    return None  # this key is spent; the provider's next key may still work
                retry += 1
                continue
            self.first_token.observe(provider.name, self._ms(started) / 1000)
            self._release_probe(provider, probe)
            return (yield from self._relay(provider, key, call, started, opening, events, mode))
        raise Skip

    def _failed_before_token(self, provider, key, error, retry, call, started, probe) -> bool:
        """FallbackEngine's handling of a failed call; True: try the next key; raises Skip to
        leave the provider (or CallerError); returns False after waiting to retry this key."""
        latency_ms = self._ms(started)
        call.attempts.append(attempt_of(provider, key, error, latency_ms))
        wait = self._retry_wait(error, retry, call, provider=provider, key=key)
        state = self.store.state(provider.name, key.label, now=self.clock())
        self._fail(provider, key, error, latency_ms, state, final=wait is None)
        rotate = self._after_failure(provider, error, call)
        if wait is None and rotate:
            return True
        if wait is None:
            raise Skip
        self._suspect(provider, error, probe, wait)
        self.sleep(wait)
        if blocked(self.store.state(provider.name, key.label, now=self.clock()), self.clock()):
            raise Skip  # another worker cooled it meanwhile: leave it be
        return False

    def _first_token_timeouts(self, provider, request, remaining: float, call) -> Timeouts:
        """Until its first token an attempt is bounded by the first-token limit (within its
        share of the time left), and by nothing shorter: no idle read timeout fires first."""
        total = min(self.first_token.seconds(provider.name, request), self._share(remaining, call))
        connect = min(self.settings.connect_timeout_s, total)
        return Timeouts(connect=connect, read=total, total=total)

    def _until_first_token(
        self, events, request, started, timeouts: Timeouts, mode, *, timed: bool = False
    ) -> list:
        """The provider's events up to its first token (whitespace before it included). A
        continuation may also end at once: the answer was whole where the first one broke.
        timed: the provider holds its reads to the first-token limit itself (see _next)."""
        opening: list = []
        for event in events:
            if not timed and self.clock() - started > timeouts.total:
                raise ProviderTimeout(f"no first token within {timeouts.total:g}s")
            if isinstance(event, StreamEnd):
                if mode == rescue.PREFILL and event.finish_reason == "stop":
                    return [*opening, event]
                raise rescue.empty_answer(opening, request, event.finish_reason)
            opening.append(event)
            if event.is_token:
                return opening
        raise Unavailable("the stream ended before any answer", status=200)

    def _relay(self, provider, key: ApiKey, call, started, opening, events, mode):
        """Everything after the first token: relay, watch the limits; DONE, MISMATCH, or the
        ProviderError that broke the stream (recorded as this provider's failure)."""
        first_token_ms = self._ms(started)
        part = rescue.Part(call, provider, key, mode)
        announced = False
        try:
            timed = _times_its_reads(provider)
            for event in rescue.chain(opening, lambda: self._next(events, call, timed)):
                ending = isinstance(event, StreamEnd)
                out = part.end() if ending else part.feed(event)
                if out is rescue.MISMATCH:
                    return self._mismatch(provider, key, call, started)
                if (out is not None or ending) and not announced:
                    # A splice is announced only once it matched: a mismatch says nothing.
                    announced = True
                    yield self._announce(provider, key, call, mode)
                if out is not None:
                    yield out
                if ending:
                    yield self._done(provider, key, call, event, first_token_ms, part)
                    return rescue.DONE
        except ProviderError as error:
            part.close()
            return self._broken(provider, key, call, error, started)
        finally:
            events.close()  # the caller left, or we are done: release the connection

    def _announce(self, provider, key, call, mode):
        if call.started:
            return StreamResumed(provider.name, provider.model, key.label, mode)
        call.started = True
        return StreamStart(provider.name, provider.model, key.label, tuple(call.attempts))

    def _next(self, events, call: rescue.StreamCall, timed: bool = False):
        """The provider's next event, or ProviderTimeout for a stall or a stream past its total
        limit; Unavailable for a stream that ends without finishing.

        timed: the provider times its own silence where it reads (providers/stream_reader.py:
        a wait on its socket that ends with nothing). Timed here, around next(), a stall would
        also count the time this worker took to come back for the event, which under load is
        not the provider's: such a provider's event in hand is never a stall."""
        asked = self.clock()  # the caller's own slowness is not the provider's stall
        event = next(events, None)
        now = self.clock()
        limits = self.stream_settings
        if not timed and now - asked > limits.stall_s:
            raise ProviderTimeout(f"stream stalled: no content for {limits.stall_s:g}s")
        if now > call.ends_at:
            raise ProviderTimeout(f"stream ran past its total limit of {limits.max_s:g}s")
        if event is None:
            raise Unavailable("the stream ended without finishing", status=200)
        return event

    def _done(self, provider, key, call, end: StreamEnd, first_token_ms, part):
        # Health records the time to the first token: a stream's length is the answer's, not
        # the provider's speed.
        now = self.clock()
        self.store.record_success(provider.name, key.label, latency_ms=first_token_ms, now=now)
        call.attempts.append(Attempt(provider.name, key.label, None, 200, first_token_ms))
        part.close(usage=end.usage)
        return rescue.done(call, end)

    def _broken(self, provider, key, call, error: ProviderError, started) -> ProviderError:
        latency_ms = self._ms(started)
        call.attempts.append(attempt_of(provider, key, error, latency_ms))
        state = self.store.state(provider.name, key.label, now=self.clock())
        self._fail(provider, key, error, latency_ms, state, final=True)
        return error

    def _mismatch(self, provider, key, call, started):
        """A restarted answer that does not repeat the text sent: not the provider's fault."""
        call.attempts.append(rescue.mismatch_attempt(provider, key, self._ms(started)))
        return rescue.MISMATCH

    def _release_probe(self, provider, probe) -> None:
        """A first token proves a recovering provider healthy: let others back in now, not at
        the end of a stream that may run for minutes."""
        if probe.held:
            probe.healthy = True
            self._end_probe(provider, probe)
            probe.held = False

    def _ms(self, started: float) -> float:
        return (self.clock() - started) * 1000


def _times_its_reads(provider) -> bool:
    """Whether the provider ends its own attempts at the first-token and stall limits, timed
    where it waits for bytes (providers.base.HTTPProvider), so that the engine's clock around
    its events, which also counts this worker's delays, need not."""
    return bool(getattr(provider, "times_its_reads", False))
