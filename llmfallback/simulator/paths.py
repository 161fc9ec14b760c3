"""Which provider a chat URL is for: the paths each real provider serves its chat API on, and
OpenAI-compatible servers under /openai/<name>/."""

from __future__ import annotations

import re

GEMINI_PATH = re.compile(
    r"^/gemini/v1beta/models/([^/:]+:(?:generateContent|streamGenerateContent))$"
)
GENERIC_PATH = re.compile(r"^/openai/([A-Za-z0-9_.-]+)/v1/chat/completions$")
FIXED_ROUTES = {
    "/groq/openai/v1/chat/completions": "groq",
    "/deepseek/chat/completions": "deepseek",
    "/deepseek/v1/chat/completions": "deepseek",
    # DeepSeek's prefix completion (a trailing assistant message with "prefix": true) is served
    # on its beta path only. https://api-docs.deepseek.com/guides/chat_prefix_completion
    "/deepseek/beta/chat/completions": "deepseek",
}


def route(path: str) -> tuple[str, str] | None:
    """(provider, path detail) for a chat URL, else None."""
    if path in FIXED_ROUTES:
        return FIXED_ROUTES[path], ""
    if m := GEMINI_PATH.match(path):
        return "gemini", m.group(1)
    if m := GENERIC_PATH.match(path):
        return m.group(1), m.group(1)
    return None
