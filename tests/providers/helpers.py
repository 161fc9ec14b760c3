"""Shared test helpers: fixture bytes, MockTransport clients, a sample request."""

from pathlib import Path

import httpx

from llmfallback.core.ports import ApiKey
from llmfallback.core.types import ChatRequest, Timeouts

FIXTURES = Path(__file__).parent / "fixtures"
GROQ_KEY = ApiKey("k1", "gsk_live_TESTSECRET1234567890abcdef")
GEMINI_KEY = ApiKey("k1", "AIzaSyTESTSECRET_abcdefghijklmnopqrstu")
NOW = 1_750_000_000.0  # a fixed epoch for HTTP dates and daily resets


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def replying(status: int, body: bytes | str, headers: dict | None = None, seen: list | None = None):
    """A MockTransport handler returning fixed bytes; records requests into `seen`."""

    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        content = body.encode() if isinstance(body, str) else body
        return httpx.Response(status, content=content, headers=headers or {})

    return handler


def client_for(handler) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def hello(**kwargs) -> ChatRequest:
    return ChatRequest.from_dicts(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "Count the r's"},
        ],
        **{"temperature": 0.2, "max_tokens": 64, **kwargs},
    )


TIMEOUTS = Timeouts(connect=1, read=2, total=10)
