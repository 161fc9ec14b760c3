"""What agents do through the faces they call: /v1 (routing, capabilities) and every chat in
an agent key's name (its limits), answered whole. Built on services.llm_chat; the views call
these. Streamed calls: stream_services.py.
"""

from __future__ import annotations

import time
from dataclasses import replace

from django.conf import settings

from llmfallback.access import limits
from llmfallback.core import routing
from llmfallback.core.errors import ChatFailed
from llmfallback.core.types import ChatRequest, ChatResult
from llmfallback.http import routes
from llmfallback.manager import FallbackConfig
from llmfallback.ops import cache as response_cache
from llmfallback.ops import tracing
from llmfallback.providers import openai_input
from llmfallback.runtime import provider_order, runtime
from llmfallback.services import llm_chat

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
            plan, earlier = overflowed(plan, error, request, access, span), error.attempts
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


def overflowed(plan: routes.Plan, error: ChatFailed, request, access, span) -> routes.Plan:
    """The overflow route's plan, or `error` raised (and traced) when the request ends here
    (for routed_chat here and its streamed twin in stream_services.py)."""
    try:
        return routes.overflow_plan(plan, error, request, access)
    except ChatFailed:
        tracing.failed(span, error=error, names=plan.names, attempts=error.attempts)
        raise


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


def agent_request_refused(*, agent, clock=time.time) -> None:
    """Count a chat request refused before the services saw it (a body that is not a JSON
    object, a field that fails validation): every request counts once, whatever its outcome."""
    limits.request_refused(agent, now=clock())
