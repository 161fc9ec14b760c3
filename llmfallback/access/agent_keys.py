"""Agent keys: agents authenticate with `Authorization: Bearer <key>`; keys are stored hashed.

Everything about agent keys lives here: creating, revoking and hashing them, the per-worker
cache, the DRF authentication and the operator permission. Nothing here imports services.py.
"""

import hashlib
import secrets
import time

from django.utils import timezone
from rest_framework import authentication, exceptions, permissions

from congress.authority import Action, actor_of, may
from llmfallback.health.watch import health_watch
from llmfallback.models import AgentKey


def agent_key_create(*, name: str, operator: bool = False) -> tuple[AgentKey, str]:
    """Create an agent key; the raw key is returned once and only its hash is stored."""
    raw = "d8_" + secrets.token_urlsafe(32)
    key = AgentKey.objects.create(
        name=name, prefix=raw[:10], key_hash=key_hash(raw), is_operator=operator
    )
    return key, raw


def agent_key_revoke(*, name: str) -> bool:
    """Revoke an active key; this worker forgets it at once, the others as agent_for_key says."""
    revoked = AgentKey.objects.filter(name=name, revoked_at=None).update(revoked_at=timezone.now())
    agent_cache_clear()  # after the update: a call in between cannot cache the key again
    return bool(revoked)


LIMIT_FIELDS = (
    "rpm_limit",
    "tokens_per_day",
    "allowed_providers",
    "default_route",
    "allowed_routes",
)


def agent_key_limits_set(*, name: str, **limits) -> AgentKey:
    """Set an active key's limits (LIMIT_FIELDS: rates, providers, routes); others keep theirs.

    Validated like the admin does (unknown provider names are refused with ValidationError).
    This worker applies them at once, the others as agent_for_key says.
    """
    key = AgentKey.objects.get(name=name, revoked_at=None)
    for field, value in limits.items():
        if field not in LIMIT_FIELDS:
            raise TypeError(f"not a limit: {field}")
        setattr(key, field, value)
    key.full_clean(exclude=["name", "prefix", "key_hash"])
    key.save(update_fields=list(limits))  # never the usage counters other workers are changing
    agent_cache_clear()
    return key


def key_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


# Agents send many calls with one key: a worker remembers a valid key instead of querying for
# it on every call. With PostgreSQL's notifications heard (health_watch.py, migration 0014), until
# the key's row changes anywhere: a key revoked or limited in one process is revoked or limited
# in every other at once. Otherwise (SQLite, the listener down, a transaction) for at most
# AGENT_CACHE_S; revoking in this process forgets it at once either way.
AGENT_CACHE_S = 5.0
_agents: dict[str, tuple[float, int | None, AgentKey]] = {}  # digest: (expires, version, key)


def agent_for_key(raw: str) -> AgentKey | None:
    """The active agent key with this raw value, remembered as said above."""
    digest, now = key_hash(raw), time.monotonic()
    watch = health_watch()
    version = watch.version() if watch is not None else None  # before the read: no change lost
    hit = _agents.get(digest)
    if hit is not None and (hit[1] == version if version is not None else hit[0] > now):
        return hit[2]
    agent = AgentKey.objects.filter(key_hash=digest, revoked_at=None).first()
    if agent is not None:
        if len(_agents) > 10_000:  # bounded: stale entries go all at once
            _agents.clear()
        _agents[digest] = (now + AGENT_CACHE_S, version, agent)
    return agent


def agent_cache_clear() -> None:
    _agents.clear()


class AgentKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0].lower() != self.keyword.lower():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <key>'.")
        agent = agent_for_key(header[1])
        if agent is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked agent key.")
        return agent, None

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) to unauthenticated calls.
        return f'{self.keyword} realm="api"'


class IsOperator(permissions.BasePermission):
    """Operator agent keys and staff users may change provider state."""

    message = "This action needs an operator key or a staff account."

    def has_permission(self, request, view) -> bool:
        return bool(request.user) and may(actor_of(request.user), Action.PROVIDER_CHANGE)
