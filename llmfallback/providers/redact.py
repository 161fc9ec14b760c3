"""Keep secrets out of error messages: upstreams sometimes echo the key back."""

from __future__ import annotations

import re
from collections.abc import Iterable

MAX_MESSAGE = 500
_MIN_FRAGMENT = 6  # shorter tails of a key are too common in ordinary text to mean anything

# Shapes of keys we may meet even when they are not ours (Groq gsk_, OpenAI/DeepSeek sk-,
# Google AIza) and a key passed as a query parameter.
_KEY_SHAPES = re.compile(r"\b(gsk_|sk-|AIza)[A-Za-z0-9_\-]{6,}|(?<=[?&]key=)[^&\s\"']+")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask the given secrets and anything shaped like an API key; cap the length."""
    for secret in secrets:
        if secret:
            text = _mask_cut_tail(text.replace(secret, "***"), secret)
    text = _KEY_SHAPES.sub(lambda m: (m.group(1) or "") + "***", text)
    if len(text) > MAX_MESSAGE:
        text = text[: MAX_MESSAGE - 1] + "…"
    return text


def _mask_cut_tail(text: str, secret: str) -> str:
    # A message cut short upstream (a page summary, a capped field) can end in a key's first part.
    for size in range(min(len(secret) - 1, len(text)), _MIN_FRAGMENT - 1, -1):
        if text.endswith(secret[:size]):
            return text[:-size] + "***"
    return text
