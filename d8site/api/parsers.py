"""The only request body the API reads: JSON, bounded in size and in nesting depth."""

from __future__ import annotations

import json
import re

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

from .exceptions import RequestTooLarge


class BoundedJSONParser(BaseParser):
    """DRF's JSON parser with limits: a huge body is a 413 and a deep one a 400, never a 500.

    Python's json module recurses once per nesting level and raises RecursionError (a 500)
    near depth 1,000; legitimate bodies here are a handful of levels deep.
    """

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.LLM_MAX_BODY_BYTES
        if _declared_length(parser_context) > limit:  # refused before a byte is read
            raise RequestTooLarge(limit)
        body = _read_at_most(stream, limit + 1)  # DRF streams it: Django's own limit never applies
        if len(body) > limit:
            raise RequestTooLarge(limit)
        try:
            data = json.loads(body, parse_constant=_reject_constant)
        except RecursionError:
            raise _too_deep() from None
        except ValueError as e:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
            raise ParseError(f"JSON parse error - {e}") from None
        if _may_nest_deeper(body, settings.LLM_MAX_JSON_DEPTH) and (
            json_depth(data) > settings.LLM_MAX_JSON_DEPTH
        ):
            raise _too_deep()
        if _SURROGATE_ESCAPE.search(body) and (where := lone_surrogate_at(data)) is not None:
            raise LoneSurrogate(where)
        return data


class LoneSurrogate(ParseError):
    """A string with a lone UTF-16 surrogate: valid JSON (an escape such as \\ud800) but not
    Unicode text, so nothing downstream can encode it. A JavaScript client that cuts a string
    inside an emoji sends one. Refused here, at the edge, for every field of every body."""

    def __init__(self, where: str):
        super().__init__(
            f"{where} holds a lone UTF-16 surrogate (half of an emoji?): send valid Unicode text."
        )
        self.param = where


# Only a \uD800-\uDFFF escape can put a surrogate in parsed JSON (the body's bytes are UTF-8),
# so bodies without one skip the walk.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def lone_surrogate_at(data) -> str | None:
    """Where the first string (key or value) holding a lone surrogate is, as `a.b[0].c`; None
    if there is none. The path's own text is escaped, so it is safe to put in an answer."""
    stack = [(data, "")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            if not _encodes(node):
                return where or "the body"
        elif isinstance(node, dict):
            children = []
            for key, value in node.items():
                path = f"{where}.{_shown(key)}" if where else _shown(key)
                if not _encodes(key):
                    return path
                children.append((value, path))
            stack.extend(reversed(children))  # popped in the body's own order
        elif isinstance(node, list):
            stack.extend((node[i], f"{where}[{i}]") for i in reversed(range(len(node))))
    return None


def _encodes(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shown(key: str) -> str:
    return key[:64].encode("utf-8", "backslashreplace").decode("utf-8")


def _read_at_most(stream, size: int) -> bytes:
    """Up to `size` bytes; a file-like read may return fewer than asked before the end."""
    chunks, left = [], size
    while left > 0 and (chunk := stream.read(left)):
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _declared_length(parser_context) -> int:
    request = (parser_context or {}).get("request")
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except (AttributeError, ValueError):
        return 0


def _may_nest_deeper(body: bytes, limit: int) -> bool:
    """False when the body has too few brackets to nest past `limit` (each level opens one),
    so a typical request skips the walk; brackets inside strings only make it walk."""
    return body.count(b"{") + body.count(b"[") > limit


def json_depth(data) -> int:
    """Nesting depth of parsed JSON (a scalar is 0, {} or [] is 1), without recursion."""
    if not isinstance(data, dict | list):
        return 0
    deepest, stack = 1, [(data, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        children = node.values() if isinstance(node, dict) else node
        # Only containers go on the stack: a flat list of a million numbers costs no memory.
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return deepest


def _too_deep() -> ParseError:
    return ParseError(f"JSON nested too deeply; the limit is {settings.LLM_MAX_JSON_DEPTH} levels.")


def _reject_constant(name: str):
    # NaN and Infinity are not JSON (RFC 8259); DRF rejects them too (STRICT_JSON).
    raise ValueError(f"{name} is not valid JSON")
