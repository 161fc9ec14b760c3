"""Every request is counted once whatever its outcome, and a stream is charged what it generated
however it ends, a caller who hangs up included (issue 24, items 5 and 11)."""

import json
import math
import time

import httpx
import pytest
from django.test import Client

from llmfallback.access import agent_keys, counters, limits
from llmfallback.core.types import ChatRequest, Message
from llmfallback.http.anthropic_out import CHARS_PER_TOKEN, estimated_tokens
from llmfallback.models import AgentKey
from llmfallback.runtime import runtime
from tests.v1.conftest import ask

# transaction=True: a hung-up streaming response is closed as a server closes it, and its
# request_finished closes PostgreSQL's pooled connection, which the test must be able to reopen.
pytestmark = pytest.mark.django_db(transaction=True)
V1, API = "/v1/chat/completions", "/api/llm/chat"
PINNED = "groq/llama-3.3-70b-versatile"


@pytest.fixture
def key(use_providers, sim, settings):
    """(post, usage) for a fresh agent key; usage is written at once (no buffer)."""
    settings.LLM_SUCCESS_FLUSH_S = 0
    agent_keys.agent_cache_clear()
    _, raw = agent_keys.agent_key_create(name="metered")
    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}", "HTTP_X_API_KEY": raw}

    def post(url, body, *, raw_body=False):
        data = body if raw_body else json.dumps(body)
        return client.post(url, data, content_type="application/json", **auth)

    def usage() -> counters.Usage:
        return limits.usage(AgentKey.objects.get(name="metered"), now=time.time())

    return post, usage


def drain(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.parametrize("rpm", [None, 100])  # a key without limits, and one with
def test_every_request_counts_once_whatever_its_outcome(key, sim, rpm):
    post, usage = key
    agent_keys.agent_key_limits_set(name="metered", rpm_limit=rpm)
    outcomes = [
        (V1, ask()),  # answered
        (V1, ask(stream=True)),  # streamed
        (API, {"messages": [{"role": "user", "content": "hi"}]}),  # answered
        (V1, ask(model="nope")),  # 404 unknown model
        (V1, ask(temperature=9)),  # 400 invalid input
        (V1, ask(temperature=9, stream=True)),  # 400 before a stream could start
        (API, {"messages": []}),  # 400 from the serializer
        (V1, "{not json"),  # 400: the body is not JSON
        (API, "{not json"),
        ("/v1/messages", {"model": "auto", "max_tokens": 5, "messages": "x"}),  # 400
        ("/v1/responses", {"model": "auto"}),  # 400
    ]
    for url, body in outcomes:
        drain(post(url, body, raw_body=isinstance(body, str)))
    for name in ("groq", "gemini", "deepseek"):
        sim.script(name, [{"behavior": "unavailable", "times": -1}])
    assert post(V1, ask()).status_code == 503  # every provider failed
    assert post(V1, ask(stream=True)).status_code == 503  # failed before the first token
    assert usage().requests_total == len(outcomes) + 2


def test_a_request_refused_over_a_limit_counts_in_the_total_but_not_the_minute(key):
    post, usage = key
    agent_keys.agent_key_limits_set(name="metered", rpm_limit=1)
    assert post(V1, ask()).status_code == 200
    assert post(V1, ask()).status_code == 429
    assert (usage().requests_total, usage().requests_this_minute) == (2, 1)


# --- Streams cut short -------------------------------------------------------------------------

WORDS = [f"word{i} " for i in range(200)]


class Upstream(httpx.SyncByteStream):
    """Groq's stream of many words; remembers whether the gateway closed it."""

    def __init__(self):
        self.closed = False
        self.sent = 0

    def __iter__(self):
        for word in WORDS:
            self.sent += 1
            delta = json.dumps({"choices": [{"index": 0, "delta": {"content": word}}]})
            yield f"data: {delta}\n\n".encode()
        yield b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'

    def close(self):
        self.closed = True


@pytest.fixture
def upstream(key):
    stream = Upstream()
    headers = {"content-type": "text/event-stream"}
    transport = httpx.MockTransport(lambda r: httpx.Response(200, stream=stream, headers=headers))
    runtime().providers["groq"].client = httpx.Client(transport=transport)
    return stream


def relayed_text(chunks: list[bytes]) -> str:
    text = ""
    for chunk in chunks:
        for block in chunk.decode().split("\n\n"):
            if block.startswith("data: {"):
                choices = json.loads(block[6:]).get("choices") or [{}]
                text += choices[0].get("delta", {}).get("content") or ""
    return text


@pytest.mark.parametrize("limited", [False, True])
def test_a_caller_who_hangs_up_mid_stream_is_charged_what_was_generated(key, upstream, limited):
    post, usage = key
    if limited:
        agent_keys.agent_key_limits_set(name="metered", tokens_per_day=100_000)
    r = post(V1, ask("Tell me a long story", model=PINNED, stream=True))
    chunks = r.streaming_content
    read = [next(chunks) for _ in range(6)]  # the role chunk and five words
    r.close()  # what a server does when the client's socket is gone
    assert upstream.closed and upstream.sent < len(WORDS)  # upstream closed at once
    prompt = estimated_tokens(ChatRequest((Message("user", "Tell me a long story"),)))
    text = relayed_text(read)
    assert text == "".join(WORDS[:5])
    assert usage().tokens_today == prompt + math.ceil(len(text) / CHARS_PER_TOKEN) > prompt
    assert usage().requests_total == 1


@pytest.mark.parametrize(
    "url, body",
    [
        ("/v1/messages", {"max_tokens": 500, "messages": [{"role": "user", "content": "Tell"}]}),
        ("/v1/responses", {"input": "Tell"}),
    ],
)
def test_the_other_faces_charge_a_caller_who_hangs_up_too(key, upstream, url, body):
    post, usage = key
    r = post(url, body | {"model": PINNED, "stream": True})
    assert r.status_code == 200, r.content
    chunks = r.streaming_content
    for _ in range(8):
        next(chunks)
    r.close()
    assert upstream.closed and upstream.sent < len(WORDS)
    assert usage().tokens_today > estimated_tokens(ChatRequest((Message("user", "Tell"),)))
    assert usage().requests_total == 1


def test_a_stream_the_provider_breaks_after_its_first_token_is_charged_too(key, sim):
    post, usage = key
    sim.script("groq", [{"behavior": "error_in_stream", "after_text": "partial answer here"}])
    body = drain(post(V1, ask("hi", model=PINNED, stream=True)))
    assert b'"error"' in body
    assert usage().tokens_today > 0 and usage().requests_total == 1


def test_a_finished_stream_is_charged_the_providers_own_usage(key, sim):
    post, usage = key
    events = drain(post(V1, ask("hi", stream=True, stream_options={"include_usage": True})))
    reported = [json.loads(b[6:]) for b in events.split(b"\n\n") if b.startswith(b"data: {")]
    total = [e["usage"]["total_tokens"] for e in reported if e.get("usage")]
    assert usage().tokens_today == total[-1] > 0
