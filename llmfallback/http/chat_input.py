"""/api/llm/chat's input without a serializer round, for the plainly valid body.

DRF builds a serializer's fields anew for every instance (a deepcopy of each declared field, the
nested message serializer too). Skipping that took an /api/llm/chat call from 1.09 to 0.80 ms of
CPU in process (bench/profile_v1.py --path /api/llm/chat). Almost every body agents send is
plainly valid, and for those `plainly_valid` gives what
ChatApi.InputSerializer's validated_data would, without it. It says yes only where the
serializer would; anything else (a string for a number, a bool where DRF would coerce one, an
unknown field, any error) returns None, and the serializer decides and words the 400.
tests/api/test_chat_input.py holds the two to the same answers (Hypothesis).
"""

from __future__ import annotations

# ChatApi.InputSerializer declares its fields with these, so the two cannot drift apart.
ROLES = ("system", "user", "assistant")
MAX_MESSAGES = 1000
MAX_CONTENT = 200_000
MAX_CONTEXT = 2000
MAX_TEMPERATURE = 2
MAX_TOKENS = 1_000_000
DEFAULT_TEMPERATURE = 0.7
DEFAULT_MAX_TOKENS = 2000

FIELDS = frozenset(
    {"messages", "temperature", "max_tokens", "json_mode", "context", "cache", "stream"}
)
MESSAGE_FIELDS = frozenset({"role", "content"})


def plainly_valid(data) -> dict | None:
    """The validated input, or None: the serializer must look (it may yet accept)."""
    if type(data) is not dict or not FIELDS.issuperset(data):
        return None
    messages = _messages(data.get("messages"))
    temperature = data.get("temperature", DEFAULT_TEMPERATURE)
    max_tokens = data.get("max_tokens", DEFAULT_MAX_TOKENS)
    json_mode = data.get("json_mode", False)
    context = _context(data.get("context", ""))
    cache = data.get("cache")
    if (
        messages is None
        or type(temperature) not in (int, float)
        or not 0 <= temperature <= MAX_TEMPERATURE  # NaN fails this too
        or type(max_tokens) is not int
        or not 1 <= max_tokens <= MAX_TOKENS
        or type(json_mode) is not bool
        or context is None
        or (cache is not None and type(cache) is not bool)
        or data.get("stream", False) is not False
    ):
        return None
    return {
        "messages": messages,
        "temperature": float(temperature),
        "max_tokens": max_tokens,
        "json_mode": json_mode,
        "context": context,
        "cache": cache,
        "stream": False,
    }


def _messages(messages) -> list[dict] | None:
    if type(messages) is not list or not 1 <= len(messages) <= MAX_MESSAGES:
        return None
    out = []
    for message in messages:
        if type(message) is not dict or message.keys() != MESSAGE_FIELDS:
            return None
        role, content = message["role"], message["content"]
        if type(role) is not str or role not in ROLES:
            return None
        if type(content) is not str or not content or not _storable(content, MAX_CONTENT):
            return None
        out.append({"role": role, "content": content})
    if not any(m["role"] == "user" for m in out):
        return None
    return out


def _context(context) -> str | None:
    """DRF's CharField with trim_whitespace: stripped, and blank is fine."""
    if type(context) is not str:
        return None
    stripped = context.strip()
    if stripped and not _storable(stripped, MAX_CONTEXT):
        return None
    return stripped


def _storable(text: str, max_length: int) -> bool:
    """Within max_length, and no NUL or lone surrogate (DRF's CharField validators)."""
    if len(text) > max_length or "\x00" in text:
        return False
    if text.isascii():  # no surrogate, and no copy made to find out
        return True
    try:
        text.encode("utf-8")  # only a lone surrogate fails to encode
    except UnicodeEncodeError:
        return False
    return True
