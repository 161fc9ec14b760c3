"""What agents do through the faces they call: /v1 (routing, capabilities, streaming) and every
chat in an agent key's name (its limits). Built on services.llm_chat; the views call these.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

from django.conf import settings

from llmfallback import limits
from llmfallback.core import routing
from llmfallback.core.errors import AllProvidersFailed, BadRequest, CallerError, ChatFailed
from llmfallback.core.stream_events import StreamDone, StreamFailed, StreamStart
from llmfallback.core.streaming import StreamingEngine, StreamSettings
from llmfallback.core.types import ChatRequest, ChatResult
from llmfallback.escalation.triggers import escalation_after_failure, escalation_after_success
from llmfallback.manager import FallbackConfig
from llmfallback.ops import cache as response_cache
from llmfallback.providers import openai_input
from llmfallback.providers.capabilities import lacking
from llmfallback.services import (
    ALL_DISABLED,
    engine_for_request,
    llm_chat,
    provider_order,
    runtime,
)

# --- The OpenAI-compatible face (/v1) ------------------------------------------------------


def openai_models() -> list[dict]:
    """The routes a /v1 `model` may name (see core/routing.py)."""
    return routing.model_ids({c.name: c.model for c in settings.LLM_PROVIDERS if not c.missing})


def openai_chat(
    *,
    body: dict,
    allowed: frozenset[str] | None = None,
    clock=time.time,
    cache: bool | None = None,
) -> ChatResult:
    """Serve one /v1/chat/completions body along the route its `model` names.

    Raises InvalidRequest, UnknownModel, CallerError or AllProvidersFailed. Providers that
    cannot do what the request needs (tools, a JSON schema) are skipped: never called, never
    cooled, and named in the attempts with error_type "unsupported".
    """
    request = openai_input.chat_request(body)
    order, skips, names = _v1_route(body, request, allowed)
    config = FallbackConfig(provider_priority=names)
    try:
        result = llm_chat(request=request, config=config, clock=clock, cache=cache)
    except ChatFailed as error:
        error.attempts = routing.in_route_order(order, [*skips, *error.attempts])
        raise
    return replace(result, attempts=routing.in_route_order(order, [*skips, *result.attempts]))


def _v1_route(
    body: dict, request: ChatRequest, allowed: frozenset[str] | None = None
) -> tuple[list[str], list, list[str]]:
    """(the route's providers, the skipped ones as attempts, the ones to call) for a /v1 body."""
    models = {c.name: c.model for c in settings.LLM_PROVIDERS if not c.missing}
    order = routing.route(body["model"], models=models, chain=provider_order(runtime()))
    named = None if body["model"] == routing.AUTO else order[0]
    order = _allowed_only(order, allowed, named=named)
    providers = runtime().providers
    skips = [
        routing.skipped(name, lack)
        for name in order
        if (lack := lacking(providers.get(name), request.needs))
    ]
    names = [name for name in order if name not in {a.provider for a in skips}]
    if not names:
        needs = ", ".join(sorted(request.needs))
        raise CallerError(
            BadRequest(f"no provider for model {body['model']!r} supports {needs}"), skips
        )
    return order, skips, names


def openai_chat_stream(
    *, body: dict, allowed: frozenset[str] | None = None, clock=time.time
) -> tuple[bool, Iterator]:
    """Stream one /v1/chat/completions body: (include_usage, events).

    Raises InvalidRequest, UnknownModel or CallerError at once; the events raise CallerError
    or AllProvidersFailed before their first item when no provider produced a first token,
    then yield StreamStart, Deltas and StreamDone or StreamFailed (core/streaming.py).
    """
    request = openai_input.chat_request(body)
    _, include_usage = openai_input.stream_wanted(body)
    order, skips, names = _v1_route(body, request, allowed)
    base = engine_for_request(config=FallbackConfig(provider_priority=names), clock=clock)
    engine = StreamingEngine(
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
    )
    return include_usage, _stream_events(engine, request, order, skips, clock)


def _stream_events(engine: StreamingEngine, request, order, skips, clock) -> Iterator:
    """The engine's events with llm_chat's bookkeeping: attempts in route order, the
    request-failure count and the escalation hooks."""
    started = clock()
    stream = engine.stream(request)
    try:
        if not engine.providers:
            raise AllProvidersFailed((), retry_after=None, reason=ALL_DISABLED)
        for event in stream:
            if isinstance(event, (StreamStart, StreamDone, StreamFailed)):
                event = replace(
                    event, attempts=routing.in_route_order(order, [*skips, *event.attempts])
                )
            if isinstance(event, StreamStart):
                start = event
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
            yield event
    except ChatFailed as error:
        error.attempts = routing.in_route_order(order, [*skips, *error.attempts])
        if engine.providers:
            runtime().store.record_request_failed(
                now=clock(), latency_ms=(clock() - started) * 1000
            )
            escalation_after_failure(error=error, request=request)
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
    clock=time.time,
    cache: bool | None = None,
):
    """One chat call in a caller's name, within its agent key's limits (see limits.py).

    `request` for /api/llm/chat, `body` for /v1. Raises limits.LimitExceeded before anything
    else, limits.ProviderNotAllowed when the key may use none of the providers asked for, and
    otherwise what llm_chat or openai_chat raise. Disallowed providers are never called.
    """
    limits.request_admit(agent, now=clock())
    allowed = limits.allowed_providers(agent)
    if body is not None:
        result = openai_chat(body=body, allowed=allowed, clock=clock, cache=cache)
    else:
        config = None
        if allowed is not None:
            order = _allowed_only([c.name for c in settings.LLM_PROVIDERS], allowed)
            enabled = provider_order(runtime())
            config = FallbackConfig(provider_priority=[n for n in enabled if n in order])
        result = llm_chat(request=request, config=config, clock=clock, cache=cache)
    # An answer from the cache spent no tokens, but it is still one of the agent's requests.
    spent = 0 if response_cache.status(result) == "hit" else result.usage.total_tokens
    limits.tokens_add(agent, spent, now=clock())
    return result


def agent_chat_stream(*, agent, body: dict, clock=time.time) -> tuple[bool, Iterator]:
    """agent_chat for a streamed /v1 body: admitted before, tokens counted when it is done."""
    limits.request_admit(agent, now=clock())
    include_usage, events = openai_chat_stream(
        body=body, allowed=limits.allowed_providers(agent), clock=clock
    )
    return include_usage, _tokens_counted(agent, events, clock)


def _tokens_counted(agent, events: Iterator, clock) -> Iterator:
    for event in events:
        if isinstance(event, StreamDone):
            limits.tokens_add(agent, event.usage.total_tokens, now=clock())
        yield event


def _allowed_only(order: list[str], allowed: frozenset[str] | None, *, named=None) -> list[str]:
    """`order` without the providers a key may not use.

    ProviderNotAllowed if none is left, or if the caller `named` a provider it may not use:
    it asked for that one, and quietly serving another would hide the refusal.
    """
    if allowed is None:
        return order
    kept = [name for name in order if name in allowed]
    if (order and not kept) or (named is not None and named not in allowed):
        raise limits.ProviderNotAllowed(
            f"This agent key may use only {', '.join(sorted(allowed))}, not {', '.join(order)}."
        )
    return kept
