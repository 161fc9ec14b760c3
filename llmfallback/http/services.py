"""What agents do through the faces they call: /v1 (routing, capabilities, streaming) and every
chat in an agent key's name (its limits). Built on services.llm_chat; the views call these.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from django.conf import settings

from llmfallback.access import limits
from llmfallback.core import routing
from llmfallback.core.errors import AllProvidersFailed, ChatFailed, RequestUnsendable
from llmfallback.core.stream_events import StreamDone, StreamFailed, StreamStart
from llmfallback.core.streaming import StreamingEngine, StreamSettings
from llmfallback.core.types import ChatRequest, ChatResult
from llmfallback.escalation.triggers import escalation_after_failure, escalation_after_success
from llmfallback.escalation.unserved import unserved_escalate
from llmfallback.http import metering, routes
from llmfallback.manager import FallbackConfig
from llmfallback.ops import cache as response_cache
from llmfallback.ops import tracing
from llmfallback.providers import openai_input
from llmfallback.services import (
    ALL_DISABLED,
    engine_for_request,
    llm_chat,
    provider_order,
    runtime,
)

# --- The OpenAI-compatible face (/v1) and every protocol routed like it ---------------------


def openai_models() -> list[dict]:
    """The names a /v1 `model` may take (see core/routing.py)."""
    return routing.model_ids(routes.configured_models(), settings.LLM_ROUTES)


def openai_chat(
    *,
    body: dict,
    access: routes.Access = routes.ANYONE,
    clock=time.time,
    cache: bool | None = None,
    cache_scope: str | None = None,
) -> ChatResult:
    """Serve one /v1/chat/completions body along the route its `model` names."""
    request = openai_input.chat_request(body)
    return routed_chat(
        request=request,
        model=body["model"],
        access=access,
        clock=clock,
        cache=cache,
        cache_scope=cache_scope,
    )


def routed_chat(
    *,
    request: ChatRequest,
    model: str,
    access: routes.Access = routes.ANYONE,
    clock=time.time,
    cache: bool | None = None,
    cache_scope: str | None = None,
) -> ChatResult:
    """Serve `request` along the route `model` names; a context-length refusal from every
    provider of a route goes on to the route it names for that (its overflow), once each.

    Raises InvalidRequest, UnknownModel, ProviderNotAllowed, CallerError or AllProvidersFailed.
    Providers that cannot do what the request needs (tools, a JSON schema) are skipped: never
    called, never cooled, and named in the attempts with error_type "unsupported".
    """
    plan, earlier, span = routes.plan_for(model, request, access), (), tracing.current()
    while True:
        tracing.routed(
            span, model=model, route=plan.resolved.name, request=request, skips=plan.skips
        )
        try:
            result = llm_chat(
                request=request,
                config=plan.config,
                clock=clock,
                cache=cache,
                cache_scope=cache_scope,
            )
        except ChatFailed as error:
            error.attempts = earlier + plan.ordered(error.attempts)
            plan, earlier = _overflow(plan, error, request, access, span), error.attempts
            continue
        skipped = routes.cooling_skips(plan, result.attempts, served=result.provider, now=clock())
        ordered = plan.ordered((*result.attempts, *skipped))
        result = replace(result, attempts=earlier + ordered)
        tracing.answered(
            span,
            provider=result.provider,
            model=result.model,
            usage=result.usage,
            attempts=result.attempts,
            names=plan.names,
            content=result.content,
        )
        return result


def _overflow(plan: routes.Plan, error: ChatFailed, request, access, span) -> routes.Plan:
    """The overflow route's plan, or `error` raised (and traced) when the request ends here."""
    try:
        return routes.overflow_plan(plan, error, request, access)
    except ChatFailed:
        tracing.failed(span, error=error, names=plan.names, attempts=error.attempts)
        raise


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
            plan, earlier = _overflow(plan, error, request, access, span), error.attempts
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


# --- Per-agent limits ----------------------------------------------------------------------


def agent_chat(
    *,
    agent,
    request: ChatRequest | None = None,
    body: dict | None = None,
    model: str | None = None,
    clock=time.time,
    cache: bool | None = None,
):
    """One chat call in a caller's name, within its agent key's limits (see limits.py).

    `request` alone for /api/llm/chat, `body` for /v1/chat/completions, `request` and the
    `model` it names for the other /v1 protocols. Raises limits.LimitExceeded before anything
    else, limits.ProviderNotAllowed when the key may use none of the providers asked for (or
    not the route), and otherwise what llm_chat or routed_chat raise. Disallowed providers are
    never called.
    """
    limits.request_admit(agent, now=clock())  # a key with limits: counted here, or refused
    spent = 0
    try:
        result = _agent_chat(agent, request, body, model, clock, cache)
        # An answer from the cache spent no tokens, but it is still one of the agent's requests.
        spent = 0 if response_cache.status(result) == "hit" else result.usage.total_tokens
    finally:  # every outcome: a failed request is one of the agent's requests too
        limits.tokens_add(agent, spent, now=clock())
    return result


def _agent_chat(agent, request, body, model, clock, cache) -> ChatResult:
    access = routes.agent_access(agent)
    scoped = {"cache": cache, "cache_scope": response_cache.scope_for(agent)}  # its own entries
    if body is not None:
        return openai_chat(body=body, access=access, clock=clock, **scoped)
    if model is not None:
        return routed_chat(request=request, model=model, access=access, clock=clock, **scoped)
    return _api_chat(request, access, clock, scoped)


def _api_chat(request, access: routes.Access, clock, scoped: dict) -> ChatResult:
    """/api/llm/chat's call: the operators' chain, less the providers the key may not use."""
    names = provider_order(runtime())
    if access.providers is not None:
        order = routes.allowed_only([c.name for c in settings.LLM_PROVIDERS], access.providers)
        names = [n for n in names if n in order]
    config = FallbackConfig(provider_priority=names) if access.providers is not None else None
    span = tracing.current()
    try:
        result = llm_chat(request=request, config=config, clock=clock, **scoped)
    except ChatFailed as error:
        tracing.failed(span, error=error, names=names, attempts=error.attempts)
        raise
    traced = {"provider": result.provider, "model": result.model, "usage": result.usage}
    tracing.answered(span, **traced, attempts=result.attempts, names=names, content=result.content)
    return result


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


def agent_request_refused(*, agent, clock=time.time) -> None:
    """Count a chat request refused before the services saw it (a body that is not a JSON
    object, a field that fails validation): every request counts once, whatever its outcome."""
    limits.request_refused(agent, now=clock())


@contextmanager
def _counted_if_refused(agent, clock):
    """A stream refused before it could start (bad input, an unknown model) still counts."""
    try:
        yield
    except BaseException:
        limits.tokens_add(agent, 0, now=clock())
        raise
