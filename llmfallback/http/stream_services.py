"""What agents' streamed calls do, on every face that streams (/v1/chat/completions,
/v1/messages, /v1/responses): the route's stream with llm_chat's bookkeeping (attempts in route
order, the failure count, the escalation hooks), the overflow route for a context-length
refusal before the first token, and the agent key's limits, charged however the stream ends
(metering.py). The calls that answer whole are in services.py; the views call both.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from django.conf import settings

from llmfallback.access import limits
from llmfallback.core.errors import AllProvidersFailed, ChatFailed, RequestUnsendable
from llmfallback.core.stream_events import StreamDone, StreamFailed, StreamStart
from llmfallback.core.streaming import StreamingEngine, StreamSettings
from llmfallback.core.types import ChatRequest, ChatResult
from llmfallback.escalation.triggers import escalation_after_failure, escalation_after_success
from llmfallback.escalation.unserved import unserved_escalate
from llmfallback.http import metering, routes, services
from llmfallback.ops import tracing
from llmfallback.providers import cooperative, openai_input
from llmfallback.runtime import provider_order, runtime
from llmfallback.services import ALL_DISABLED, engine_for_request


def routed_chat_stream(
    *, request: ChatRequest, model: str, access: routes.Access = routes.ANYONE, clock=time.time
) -> Iterator:
    """Stream `request` along the route `model` names.

    Raises InvalidRequest, UnknownModel, ProviderNotAllowed or CallerError at once; the events
    raise CallerError or AllProvidersFailed before their first item when no provider produced a
    first token (a context-length refusal first goes on to the overflow route, as routed_chat),
    then yield StreamStart, Deltas and StreamDone or StreamFailed (core/streaming.py).
    """
    plan = routes.plan_for(model, request, access)
    return _overflowing(plan, request, access, clock, model)


def _overflowing(plan: routes.Plan, request, access: routes.Access, clock, model: str) -> Iterator:
    """The plan's events; when they fail before their first for a context-length refusal, the
    overflow route's, with the attempts before it kept first."""
    earlier, span = (), tracing.current()  # the request's span, kept for the stream's end
    while True:
        tracing.routed(
            span, model=model, route=plan.resolved.name, request=request, skips=plan.skips
        )
        events = _stream_events(_streaming_engine(plan, clock), request, plan, clock)
        try:
            first = next(events)
        except ChatFailed as error:
            error.attempts = earlier + tuple(error.attempts)
            plan, earlier = services.overflowed(plan, error, request, access, span), error.attempts
            continue
        try:
            for event in itertools.chain([first], events):
                if earlier and hasattr(event, "attempts"):
                    event = replace(event, attempts=earlier + tuple(event.attempts))
                if span is not None:
                    tracing.stream_event(span, first, event, names=plan.names)
                yield event
        finally:
            events.close()  # the caller left mid-stream: the provider's connection goes now
        return


def _streaming_engine(plan: routes.Plan, clock) -> StreamingEngine:
    base = engine_for_request(config=plan.config, clock=clock)
    return StreamingEngine(
        base.providers,
        base.store,
        base.policy,
        clock,
        base.settings,
        sleep=cooperative.sleep,  # a retry's wait mid-stream, under the relay's loop: yields
        stream_settings=StreamSettings(
            first_token_timeout_s=settings.LLM_FIRST_TOKEN_TIMEOUT_S,
            stall_s=settings.LLM_STREAM_STALL_S,
            max_s=settings.LLM_STREAM_MAX_S,
        ),
        first_token=runtime().first_token,
    )


def _stream_events(engine: StreamingEngine, request, plan: routes.Plan, clock) -> Iterator:
    """The engine's events with llm_chat's bookkeeping: attempts in route order, the
    request-failure count and the escalation hooks."""
    started = clock()
    stream = engine.stream(request)
    skipped = ()  # providers passed by for a cooldown before the one that streams
    try:
        if not engine.providers:
            raise AllProvidersFailed((), retry_after=None, reason=ALL_DISABLED)
        for event in stream:
            if isinstance(event, StreamStart):
                start = event
                skipped = routes.cooling_skips(
                    plan, event.attempts, served=event.provider, now=clock()
                )
            elif isinstance(event, StreamDone):
                result = ChatResult(
                    "", start.provider, start.model, event.usage, start.key, event.attempts
                )
                escalation_after_success(result=result, request=request)
            elif isinstance(event, StreamFailed):  # the caller got an error, not an answer
                runtime().store.record_request_failed(
                    now=clock(), latency_ms=(clock() - started) * 1000
                )
                escalation_after_failure(error=_broken_stream(event), request=request)
            if isinstance(event, (StreamStart, StreamDone, StreamFailed)):
                event = replace(event, attempts=plan.ordered((*event.attempts, *skipped)))
            yield event
    except RequestUnsendable:
        raise  # no provider was called: nothing failed upstream, nothing to count or escalate
    except ChatFailed as error:
        error.attempts = plan.ordered(error.attempts)
        if engine.providers:
            runtime().store.record_request_failed(
                now=clock(), latency_ms=(clock() - started) * 1000
            )
            enabled = provider_order(runtime())
            unserved_escalate(engine=engine, enabled=enabled, error=error, request=request)
        raise
    finally:
        stream.close()  # the caller left mid-stream: the provider's connection goes now


def _broken_stream(event: StreamFailed) -> ChatFailed:
    """A stream that broke after its first token, as escalation_after_failure takes a failed
    request. Not AllProvidersFailed: the providers after this one were never asked, so nothing
    says they are down; its failures count toward the repeated-error and failure-rate triggers
    like those of a provider fallen back from before the first token."""
    error = ChatFailed(event.error.message)
    error.attempts = event.attempts
    return error


def agent_chat_stream(*, agent, body: dict, clock=time.time) -> tuple[bool, Iterator]:
    """agent_chat for a streamed /v1 body: admitted before, charged however it ends
    (http/metering.py)."""
    limits.request_admit(agent, now=clock())
    with _counted_if_refused(agent, clock):
        request = openai_input.chat_request(body)
        _, include_usage = openai_input.stream_wanted(body)
        access = routes.agent_access(agent)
        events = routed_chat_stream(
            request=request, model=body["model"], access=access, clock=clock
        )
    return include_usage, metering.charged(agent, request, events, clock)


def agent_routed_stream(*, agent, request: ChatRequest, model: str, clock=time.time) -> Iterator:
    """agent_chat_stream for a request already read (/v1/messages, /v1/responses)."""
    limits.request_admit(agent, now=clock())
    with _counted_if_refused(agent, clock):
        access = routes.agent_access(agent)
        events = routed_chat_stream(request=request, model=model, access=access, clock=clock)
    return metering.charged(agent, request, events, clock)


@contextmanager
def _counted_if_refused(agent, clock):
    """A stream refused before it could start (bad input, an unknown model) still counts."""
    try:
        yield
    except BaseException:
        limits.tokens_add(agent, 0, now=clock())
        raise
