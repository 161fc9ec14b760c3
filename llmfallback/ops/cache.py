"""The opt-in response cache: an answer served again for the same request on the same route.

Opt-in only: a caller asks per request (`X-D8-Cache: use`, or `"cache": true` on
/api/llm/chat), or the operator turns it on for deterministic requests (temperature 0) with
LLM_CACHE_DETERMINISTIC. `Cache-Control: no-cache` (or no-store) bypasses it for one request.

The key is a SHA-256 of the whole normalised request (every message and generation option,
tools and schema), the providers it may go to, in order, and whose it is: the agent key (or the
signed-in user) that asked, so no key is ever served another key's answer. Operators may share
entries across keys with LLM_CACHE_SHARED, knowing any key that sends the same request then
reads another's answer (docs/operations.md). Only whole
answers are kept: errors are raised, never stored; cut-off ("length") and filtered
("content_filter") answers and empty ones are not kept either, since asking again may get a
better one. A tool-call answer is a whole answer to its request and is kept: the conversation
that follows it (the tool's result) is another request with another key.

Entries live in Django's default cache (local memory embedded, Redis with REDIS_URL) and carry
their own expiry, read with the caller's clock. A cache that fails (Redis down) is a miss and
logged: the chat itself goes on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping

from django.conf import settings

from llmfallback.core.types import ChatRequest, ChatResult
from llmfallback.health.counts import counter_add

from . import shared_cache

KEY_PREFIX = "d8:llm-cache:v1:"  # the version changes with what an entry holds
HEADER = "X-D8-Cache"
USE_VALUES = frozenset({"use", "1", "true", "yes", "on"})
BYPASS_VALUES = frozenset({"bypass", "0", "false", "no", "off"})
UNCACHED_FINISH = frozenset({"length", "content_filter"})
HITS, MISSES = "cache_hits", "cache_misses"


@dataclasses.dataclass(frozen=True, slots=True)
class CacheResult(ChatResult):
    """A ChatResult that went through the cache: `cache` is "hit" or "miss"."""

    cache: str = "miss"


def status(result: ChatResult) -> str | None:
    """The cache's verdict on this answer ("hit" or "miss"); None when it was not consulted."""
    return getattr(result, "cache", None)


def cached_out(result: ChatResult) -> dict:
    """`cached` for an answer's body, only when it went through the cache: the answers of
    callers who never opt in keep their shape."""
    verdict = status(result)
    return {"cached": verdict == "hit"} if verdict else {}


def wanted(headers: Mapping[str, str], field: bool | None = None) -> bool | None:
    """The caller's choice from its headers and the body's `cache` field; None: not said.

    A bypass (Cache-Control: no-cache/no-store, X-D8-Cache: bypass) wins over any ask to use.
    """
    control = {p.strip().lower() for p in headers.get("Cache-Control", "").split(",")}
    asked = headers.get(HEADER, "").strip().lower()
    if control & {"no-cache", "no-store"} or asked in BYPASS_VALUES or field is False:
        return False
    if asked in USE_VALUES or field is True:
        return True
    return None


def enabled_for(request: ChatRequest, cache: bool | None) -> bool:
    """Whether this request goes through the cache: the caller's say, else the configuration."""
    if settings.LLM_CACHE_TTL_S <= 0:
        return False
    if cache is not None:
        return cache
    return settings.LLM_CACHE_DETERMINISTIC and request.temperature == 0


def scope_for(caller) -> str:
    """Whose entries a caller reads and writes: its own (an agent key, a signed-in user; the
    in-process Python API is one caller), or everyone's when operators set LLM_CACHE_SHARED."""
    if settings.LLM_CACHE_SHARED:
        return "shared"
    pk = getattr(caller, "pk", None)
    if pk is None:
        return "in-process"
    return f"{caller._meta.label_lower}:{pk}"


def key_for(request: ChatRequest, route: list[str], scope: str = "in-process") -> str:
    """A stable key for `request` on `route` for `scope` (scope_for): canonical JSON (sorted
    keys, no spaces), hashed."""
    whole = {"request": dataclasses.asdict(request), "route": list(route), "scope": scope}
    canonical = json.dumps(
        _normalised(whole),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    # surrogatepass: a Python caller's lone surrogate still hashes (the request then fails as
    # RequestUnsendable, a 400, never here as an encoding error).
    return KEY_PREFIX + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _normalised(value):
    """Whole floats as ints, so `"temperature": 0` and `0.0` are the same request."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _normalised(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normalised(v) for v in value]
    return value


def lookup(key: str, *, now: float) -> CacheResult | None:
    """The stored answer for `key` if it has not expired by `now`."""
    # A cache outage is a miss (served by the providers), remembered for a second: see
    # shared_cache.py.
    entry = shared_cache.get(key, alias=settings.LLM_CACHE_ALIAS)
    if not (isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[1], ChatResult)):
        return None  # nothing, or something this version did not write
    expires, result = entry
    if not isinstance(expires, (int, float)) or expires <= now:
        return None
    # A fresh id per answer: callers that deduplicate or log by id see two answers.
    completion = result.completion and dataclasses.replace(result.completion, id="")
    fields = _fields(result) | {"attempts": (), "completion": completion}
    return CacheResult(**fields, cache="hit")


def keep(key: str, result: ChatResult, *, now: float) -> None:
    """Store a whole answer for LLM_CACHE_TTL_S; anything partial or empty is not kept."""
    if not cacheable(result):
        return
    ttl = settings.LLM_CACHE_TTL_S
    plain = ChatResult(**_fields(result))  # what is stored never says "miss"
    shared_cache.put(key, (now + ttl, plain), ttl, alias=settings.LLM_CACHE_ALIAS)


def cacheable(result: ChatResult) -> bool:
    completion = result.completion
    calls = completion.tool_calls if completion else ()
    finish = completion.finish_reason if completion else None
    return bool(result.content or calls) and finish not in UNCACHED_FINISH


def marked(result: ChatResult, verdict: str) -> CacheResult:
    return CacheResult(**_fields(result), cache=verdict)


def count(verdict: str) -> None:
    """One more hit or miss in the Counter rows /api/llm/health reads (an F() increment)."""
    counter_add(HITS if verdict == "hit" else MISSES)


def _fields(result: ChatResult) -> dict:
    return {f.name: getattr(result, f.name) for f in dataclasses.fields(ChatResult)}
