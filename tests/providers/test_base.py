import httpx
import pytest

from llmfallback.core.errors import ProviderTimeout
from llmfallback.core.types import Timeouts
from llmfallback.providers import OpenAICompatible
from tests.providers.helpers import GROQ_KEY, client_for, fixture, hello


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def deepseek(handler, clock) -> OpenAICompatible:
    return OpenAICompatible(
        name="deepseek",
        base_url="http://localhost:7100",
        model="deepseek-chat",
        client=client_for(handler),
        clock=clock,
    )


def test_total_deadline_holds_while_the_server_sends_keep_alive_lines_forever():
    clock = FakeClock()

    def keep_alive():
        while True:  # DeepSeek's queue: blank lines, never the body
            clock.now += 1.0
            yield b"\n"

    handler = lambda request: httpx.Response(200, content=keep_alive())  # noqa: E731
    provider = deepseek(handler, clock)
    with pytest.raises(ProviderTimeout, match="total deadline"):
        provider.chat(hello(), key=GROQ_KEY, timeouts=Timeouts(connect=1, read=60, total=30))
    assert 1030 <= clock.now <= 1032


def test_keep_alive_lines_then_the_body_within_the_deadline_succeed():
    clock = FakeClock()

    def slow_body():
        for _ in range(5):
            clock.now += 1.0
            yield b": keep-alive\n\n"
        yield fixture("deepseek_text.json")

    provider = deepseek(lambda request: httpx.Response(200, content=slow_body()), clock)
    result = provider.chat(hello(), key=GROQ_KEY, timeouts=Timeouts(total=30))
    assert result.content == "Hello! How can I help you today?"


def test_read_timeout_is_capped_at_the_total_deadline():
    seen = []

    def handler(request):
        seen.append(request.extensions["timeout"])
        return httpx.Response(200, content=fixture("deepseek_text.json"))

    deepseek(handler, FakeClock()).chat(
        hello(), key=GROQ_KEY, timeouts=Timeouts(connect=5, read=30, total=12)
    )
    assert seen[0]["read"] == 12 and seen[0]["connect"] == 5


def test_adapters_keep_no_per_request_state():
    provider = deepseek(
        lambda r: httpx.Response(200, content=fixture("deepseek_text.json")), FakeClock()
    )
    before = dict(vars(provider))
    provider.chat(hello(), key=GROQ_KEY, timeouts=Timeouts())
    assert vars(provider) == before
