"""Lone UTF-16 surrogates at the adapters (issue 24, items 1 and 2).

A request we cannot build or encode is nobody's failure upstream: the adapter raises
RequestUnsendable before any connection, never a ProviderError, so the engine can neither cool,
count nor escalate a provider for it. Provider text with a lone surrogate (an emoji cut at
max_tokens) reads as U+FFFD, so it always encodes for the caller."""

import json
import math

import httpx
import pytest

from llmfallback.core.engine import FallbackEngine
from llmfallback.core.errors import ProviderError, RequestUnsendable
from llmfallback.core.memory_store import MemoryHealthStore
from llmfallback.core.stream_events import Delta
from llmfallback.core.streaming import StreamingEngine
from llmfallback.core.types import ChatRequest, Message, Tool
from llmfallback.providers import Gemini, OpenAICompatible
from tests.providers.helpers import GEMINI_KEY, GROQ_KEY, TIMEOUTS, client_for, fixture, hello


def _never_called(request):
    raise AssertionError(f"the adapter connected: {request.url}")


def groq():
    return OpenAICompatible(
        name="groq",
        base_url="https://api.groq.com/openai/v1",
        model="llama-3.3-70b-versatile",
        client=client_for(_never_called),
        keys=(GROQ_KEY,),
    )


def gemini():
    return Gemini(
        name="gemini",
        base_url="https://generativelanguage.googleapis.com/v1beta",
        model="gemini-2.5-flash",
        client=client_for(_never_called),
        keys=(GEMINI_KEY,),
    )


LONE_SURROGATE = ChatRequest((Message("user", "hi \ud800"),))
UNENCODABLE = {
    "a lone surrogate in a message": LONE_SURROGATE,
    "a lone surrogate in a tool's schema": ChatRequest(
        (Message("user", "hi"),),
        tools=(Tool("f", "", {"type": "object", "properties": {"\udfff": {"type": "string"}}}),),
    ),
    "a NaN temperature (Python API)": hello(temperature=math.nan),
    "a stop sequence with a surrogate": hello(stop=("\ud83d",)),
}


@pytest.mark.parametrize("adapter", [groq, gemini])
@pytest.mark.parametrize("request_", UNENCODABLE.values(), ids=UNENCODABLE.keys())
def test_a_request_that_cannot_be_encoded_is_unsendable_before_any_connection(adapter, request_):
    provider = adapter()
    key = provider.keys[0]
    with pytest.raises(RequestUnsendable) as chat:
        provider.chat(request_, key=key, timeouts=TIMEOUTS)
    with pytest.raises(RequestUnsendable) as stream:
        list(provider.stream(request_, key=key, timeouts=TIMEOUTS, stall_s=5))
    for raised in (chat.value, stream.value):
        assert not isinstance(raised, ProviderError)
        assert raised.caller_fault


def test_a_bug_while_building_the_payload_is_unsendable_and_not_the_callers_fault(monkeypatch):
    provider = groq()
    monkeypatch.setattr(provider, "payload", lambda request: {}["missing"])
    with pytest.raises(RequestUnsendable) as raised:
        provider.chat(hello(), key=GROQ_KEY, timeouts=TIMEOUTS)
    assert not raised.value.caller_fault
    assert "KeyError" in raised.value.message


def test_the_engine_records_nothing_against_any_provider_for_an_unsendable_request():
    store = MemoryHealthStore()
    engine = FallbackEngine([groq(), gemini()], store)
    with pytest.raises(RequestUnsendable):
        engine.chat(LONE_SURROGATE)
    assert store.errors == []
    assert all(row.total_requests == 0 for row in store.providers.values())
    assert engine.earliest_recovery() == 0.0  # nobody cooling


def test_the_streaming_engine_records_nothing_either():
    store = MemoryHealthStore()
    engine = StreamingEngine([groq(), gemini()], store)
    with pytest.raises(RequestUnsendable):
        next(engine.stream(LONE_SURROGATE))
    assert store.errors == []
    assert engine.earliest_recovery() == 0.0


# --- Provider text with lone surrogates (issue 24, item 2) -----------------------------------


def answering(adapter, body: bytes, content_type="application/json"):
    provider = adapter()

    def reply(request):
        return httpx.Response(200, content=body, headers={"content-type": content_type})

    provider.client = client_for(reply)
    return provider


def test_a_gemini_answer_cut_inside_an_emoji_reads_as_the_replacement_character():
    data = json.loads(fixture("gemini_text.json"))
    data["candidates"][0]["content"]["parts"] = [{"text": "PLACEHOLDER"}]
    body = json.dumps(data).replace("PLACEHOLDER", "cut \\ud83d and \\ud83d\\ude00").encode()
    completion = answering(gemini, body).chat(hello(), key=GEMINI_KEY, timeouts=TIMEOUTS)
    assert completion.content == "cut \ufffd and \U0001f600"  # a whole pair stays an emoji
    completion.content.encode("utf-8")


def test_an_openai_style_answer_with_a_lone_low_half_in_a_tool_call_reads_as_replacement():
    body = (
        json.dumps(json.loads(fixture("groq_text.json")))
        .replace(
            '"content": ',
            '"tool_calls": [{"id": "c\\udc00", "type": "function", "function": '
            '{"name": "f", "arguments": "{}"}}], "content": ',
            1,
        )
        .encode()
    )
    completion = answering(groq, body).chat(hello(), key=GROQ_KEY, timeouts=TIMEOUTS)
    assert [c.id for c in completion.tool_calls] == ["c\ufffd"]


def test_a_stream_with_a_lone_surrogate_or_broken_utf8_reads_as_replacement_characters():
    events = (
        b'data: {"choices":[{"index":0,"delta":{"content":"cut \\ud83d"}}]}\n\n'
        b'data: {"choices":[{"index":0,"delta":{"content":" bad \xff byte"}}]}\n\n'
        b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}\n\ndata: [DONE]\n\n'
    )
    provider = answering(groq, events, "text/event-stream")
    out = provider.stream(hello(), key=GROQ_KEY, timeouts=TIMEOUTS, stall_s=5)
    text = "".join(e.content or "" for e in out if isinstance(e, Delta))
    assert text == "cut \ufffd bad \ufffd byte"
