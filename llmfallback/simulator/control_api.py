"""The /_sim control API: script behaviours, start chaos, read counters, the tokens generated and
the call log, reset."""

import json

from .behaviors import NAMES
from .book import ScriptBook, Step
from .chaos import Chaos, ChaosConfig, plan
from .reply import Reply, compact, dense


def _bad(message: str) -> Reply:
    return compact(400, {"error": message})


def parse_steps(raw_steps) -> list[Step]:
    """Steps from JSON; raises ValueError with a readable message."""
    if not isinstance(raw_steps, list):
        raise ValueError("'steps' must be a list")
    steps = []
    for raw in raw_steps:
        if not isinstance(raw, dict) or raw.get("behavior") not in NAMES:
            raise ValueError(f"unknown behavior in {raw!r}; known: {', '.join(NAMES)}")
        params = {k: v for k, v in raw.items() if k not in ("behavior", "times")}
        steps.append(Step(raw["behavior"], params, int(raw.get("times", 1))))
    return steps


def _script(book: ScriptBook, raw: bytes) -> Reply:
    try:
        data = json.loads(raw or b"{}")
        provider = data.get("provider")
        if not isinstance(provider, str) or not provider:
            raise ValueError("'provider' is required")
        steps = parse_steps(data.get("steps", []))
    except (ValueError, AttributeError, TypeError) as e:
        return _bad(str(e))
    book.script(provider, steps, key=data.get("key"), replace=data.get("replace", True))
    return dense({"ok": True, "queued": len(steps)})


def _chaos(book: ScriptBook, method: str, raw: bytes) -> Reply:
    if method == "DELETE":
        book.chaos_stop()
        return dense({"ok": True})
    if method == "GET":
        chaos = book.chaos
        return dense(chaos.as_dict() if chaos else {"running": False})
    try:
        data = json.loads(raw or b"{}")
        if not isinstance(data, dict):
            raise ValueError("the chaos config must be a JSON object")
        chaos = Chaos(plan(ChaosConfig.from_json(data)))
    except (ValueError, TypeError) as e:
        return _bad(str(e))
    book.chaos_start(chaos)
    return dense(chaos.as_dict())


def _refuse(book: ScriptBook, raw: bytes) -> Reply:
    try:
        keys = json.loads(raw or b"{}").get("keys", [])
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise ValueError("'keys' must be a list of key fingerprints")
    except (ValueError, AttributeError) as e:
        return _bad(str(e))
    book.refuse_keys(keys)
    return dense({"ok": True, "refused": len(keys)})


def _log(book: ScriptBook, query: dict) -> Reply:
    try:
        since = int(query.get("since", 0))
    except ValueError:
        return _bad("'since' must be an integer")
    return dense(book.call_log(since))


def control_reply(book: ScriptBook, method: str, path: str, raw: bytes, query: dict) -> Reply:
    """Answer one /_sim request."""
    if path == "/_sim/health":
        return dense({"ok": True})
    if path == "/_sim/calls":
        return dense(book.calls_by_key() if query.get("by") == "key" else book.calls())
    if path == "/_sim/log":
        return _log(book, query)
    if path == "/_sim/tokens":
        return dense(book.tokens())
    if path == "/_sim/model_calls":
        return dense(book.model_calls())
    if path == "/_sim/refused_keys" and method == "POST":
        return _refuse(book, raw)
    if path == "/_sim/chaos":
        return _chaos(book, method, raw)
    if path == "/_sim/reset" and method == "POST":
        book.reset()
        return dense({"ok": True})
    if path == "/_sim/script":
        return _script(book, raw) if method == "POST" else dense(book.pending())
    return compact(404, {"error": f"unknown control path {method} {path}"})
