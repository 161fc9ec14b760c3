"""Whatever breaks an adapter while reading a reply becomes a classified, redacted ProviderError."""

import pytest

from llmfallback.core.errors import InvalidResponse, RateLimited, Unavailable
from llmfallback.providers import Gemini, OpenAICompatible
from tests.providers.helpers import GROQ_KEY, NOW, TIMEOUTS, client_for, hello, replying


class Crashing(OpenAICompatible):
    """An adapter with a bug: reading any reply raises, echoing the key on the way."""

    def parse(self, reply, request):
        raise KeyError(f"choices (key {GROQ_KEY.secret})")

    def raise_for_response(self, reply):
        raise TypeError(f"'NoneType' object is not subscriptable ({GROQ_KEY.secret})")


def crash(status, headers=None):
    provider = Crashing(
        name="groq",
        base_url="https://api.groq.com/openai/v1",
        model="m",
        client=client_for(replying(status, b"{}", headers)),
        keys=(GROQ_KEY,),
        wallclock=lambda: NOW,
    )
    with pytest.raises(Exception) as info:
        provider.chat(hello(), key=GROQ_KEY, timeouts=TIMEOUTS)
    return info.value


def test_a_200_that_crashes_the_parser_is_invalid_response():
    error = crash(200)
    assert isinstance(error, InvalidResponse) and error.cools_down
    assert "KeyError" in error.message


def test_a_503_that_crashes_the_classifier_is_still_unavailable_with_its_wait():
    error = crash(503, {"retry-after": "12"})
    assert isinstance(error, Unavailable) and error.retry_after == 12


def test_a_429_that_crashes_the_classifier_is_still_a_rate_limit():
    assert isinstance(crash(429, {"retry-after": "inf"}), RateLimited)


def test_nothing_of_the_crash_rides_along():
    error = crash(200)
    assert GROQ_KEY.secret not in str(error) and GROQ_KEY.secret not in repr(error)
    assert error.__context__ is None and error.__cause__ is None


@pytest.mark.parametrize("adapter", [OpenAICompatible, Gemini])
@pytest.mark.parametrize("status", [200, 400, 503])
def test_json_nested_too_deeply_is_classified(adapter, status):
    body = b'{"error": ' * 50_000 + b"1" + b"}" * 50_000
    provider = adapter(
        name="p",
        base_url="http://localhost:1",
        model="m",
        client=client_for(replying(status, body)),
        wallclock=lambda: NOW,
    )
    with pytest.raises(Exception) as info:
        provider.chat(hello(), key=GROQ_KEY, timeouts=TIMEOUTS)
    expected = {200: InvalidResponse, 400: Unavailable, 503: Unavailable}[status]
    assert type(info.value) is expected
