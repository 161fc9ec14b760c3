"""Which route a request takes, for whom: the plan routed_chat walks (http/services.py).

A `model` names a route (core/routing.py); an agent key may be limited to some routes and
providers and may have a default route of its own. A route whose every provider refused the
request as too long for its context goes on to the route it names for that, once each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.conf import settings

from llmfallback.access import limits
from llmfallback.core import routing
from llmfallback.core.errors import AllProvidersFailed, BadRequest, CallerError, ChatFailed
from llmfallback.core.types import Attempt, ChatRequest
from llmfallback.manager import FallbackConfig
from llmfallback.models import AgentKey
from llmfallback.providers.capabilities import lacking
from llmfallback.runtime import provider_order, runtime
from llmfallback.services import ALL_DISABLED


@dataclass(frozen=True, slots=True)
class Access:
    """What one caller may use: providers and routes (None: all), and the route `auto` means
    for it (None: LLM_DEFAULT_ROUTE)."""

    providers: frozenset[str] | None = None
    routes: frozenset[str] | None = None
    default_route: str | None = None


ANYONE = Access()


def agent_access(agent) -> Access:
    """What an agent key may use (anything else, the Python API or a session: everything)."""
    if not isinstance(agent, AgentKey):
        return ANYONE
    return Access(agent.provider_set, agent.route_set, agent.default_route or None)


def configured_models() -> dict[str, str]:
    return {c.name: c.model for c in settings.LLM_PROVIDERS if not c.missing}


@dataclass(frozen=True)
class Plan:
    """One route, ready to walk: who is skipped and why, who is called, with which models."""

    resolved: routing.Resolved
    order: list[str]
    skips: list
    names: list[str]
    seen: frozenset[str]  # routes already walked for this request (overflow never loops)

    @property
    def config(self) -> FallbackConfig:
        return FallbackConfig(provider_priority=self.names, provider_models=self.resolved.models)

    def ordered(self, attempts) -> tuple:
        return routing.in_route_order(self.order, [*self.skips, *attempts])


def plan_for(model: str, request: ChatRequest, access: Access, seen=frozenset()) -> Plan:
    """The route `model` means for this caller; raises UnknownModel, ProviderNotAllowed, or
    CallerError when no provider on it supports what the request needs."""
    resolved = routing.resolve(
        model,
        models=configured_models(),
        chain=provider_order(runtime()),
        routes=settings.LLM_ROUTES,
        default=access.default_route or settings.LLM_DEFAULT_ROUTE,
    )
    if not resolved.providers:  # operators disabled every provider on it: an outage, not a 400
        raise AllProvidersFailed((), retry_after=None, reason=ALL_DISABLED)
    if not seen:  # an overflow route is the operators' choice, not the caller's
        route_allowed(model, resolved, access)
    order = allowed_only(resolved.providers, access.providers, named=resolved.named)
    providers = runtime().providers
    skips = [
        routing.skipped(name, lack)
        for name in order
        if (lack := lacking(providers.get(name), request.needs))
    ]
    names = [name for name in order if name not in {a.provider for a in skips}]
    if not names:
        needs = ", ".join(sorted(request.needs))
        raise CallerError(BadRequest(f"no provider for model {model!r} supports {needs}"), skips)
    return Plan(resolved, order, skips, names, seen | {resolved.name})


def overflow_plan(plan: Plan, error: ChatFailed, request, access: Access) -> Plan:
    """The plan for the route `plan`'s context-length refusals go to; re-raises `error` when
    there is none (or it was walked already, or it cannot serve this caller or request)."""
    overflow = plan.resolved.overflow
    if not _too_large(error) or overflow is None or overflow in plan.seen:
        raise error
    try:
        return plan_for(overflow, request, access, plan.seen)
    except (ChatFailed, limits.ProviderNotAllowed):
        raise error from None


def _too_large(error: ChatFailed) -> bool:
    """Whether a provider of the route refused the request as too large for it. The others may
    have failed otherwise (an outage): a larger-context route may still serve it."""
    if isinstance(error, CallerError):
        return error.http_status == 413
    return any(a.refused and a.error_type == "bad_request" for a in error.attempts)


def route_allowed(model: str, resolved: routing.Resolved, access: Access) -> None:
    if access.routes is None or resolved.name in access.routes:
        return
    if model == routing.AUTO and routing.AUTO in access.routes:
        return
    raise limits.RouteNotAllowed(
        f"This agent key may use only the routes {', '.join(sorted(access.routes))},"
        f" not {model[:200]!r}."
    )


def allowed_only(order: list[str], allowed: frozenset[str] | None, *, named=None) -> list[str]:
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


def cooling_skips(plan: Plan, attempts, *, served: str | None, now: float) -> tuple:
    """The route's providers before `served` (all of them when nothing was served) that the
    engine passed by without a call because each of their keys was cooling down, out of
    service or being probed by another request: named in the answer's attempts, never called."""
    seen = {a.provider for a in attempts}
    keys = {c.name: c.keys for c in settings.LLM_PROVIDERS}
    skipped = []
    for name in plan.names:
        if name == served:
            break
        if name in seen or name not in keys:
            continue
        states = [runtime().store.state(name, k.label, now=now) for k in keys[name]]
        if all(s.unavailable or s.cooldown_until > now or s.leased for s in states):
            skipped.append(_cooling_attempt(name, states, now))
    return tuple(skipped)


def _cooling_attempt(name: str, states, now: float) -> Attempt:
    waits = [s.cooldown_until - now for s in states if not s.unavailable]
    if not waits:
        why = "unavailable until an operator resets it"
    elif max(waits) <= 0:
        why = "recovering: another request is probing it"
    else:
        why = f"cooling down for {math.ceil(min(w for w in waits if w > 0))} s"
    return Attempt(name, "", "cooldown", None, 0.0, why)
