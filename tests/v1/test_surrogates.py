"""Lone UTF-16 surrogates, from callers and from providers (issue 24, items 1 and 2).

`"hi \\ud800"` is valid JSON but not Unicode text: nothing downstream can encode it. From a
caller it is a 400 at the edge, naming where it is, and no provider is called, cooled, counted
or escalated; from a provider (an emoji cut at max_tokens) it becomes U+FFFD, never a 500."""

import json

import httpx
import pytest
from django.test import Client

from llmfallback.access import agent_keys
from llmfallback.models import ErrorEvent, Escalation, ProviderHealth
from llmfallback.runtime import runtime
from tests.v1.conftest import WEATHER_TOOL, ask

pytestmark = pytest.mark.django_db
V1, API = "/v1/chat/completions", "/api/llm/chat"


@pytest.fixture
def post(use_providers, sim):
    raw = agent_keys.agent_key_create(name="surrogates")[1]

    def send(url, body: dict):
        # json.dumps escapes the surrogate (\ud800): the bytes are what a JavaScript client sends.
        return Client().post(
            url,
            json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {raw}",
        )

    return send


def nothing_happened_upstream(sim):
    assert sim.calls() == {} or not any(sim.calls().values())
    assert not ErrorEvent.objects.exists() and not Escalation.objects.exists()
    assert not ProviderHealth.objects.filter(cooldown_until__isnull=False).exists()
    assert not ProviderHealth.objects.exclude(total_requests=0).exists()


V1_BODIES = {
    "content": (ask("hi \ud800"), "messages[0].content"),
    "content, streamed": (ask("hi \ud800", stream=True), "messages[0].content"),
    "a text part": (
        {
            "model": "auto",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "\udc00"}]}],
        },
        "messages[0].content[0].text",
    ),
    "the model": (ask(model="groq\ud800"), "model"),
    "an unknown field's name": (ask() | {"x\ud800": 1}, "x\\ud800"),
    "a tool's schema": (
        ask(
            tools=[
                WEATHER_TOOL | {"function": WEATHER_TOOL["function"] | {"description": "\ud83d"}}
            ]
        ),
        "tools[0].function.description",
    ),
    "stop": (ask(stop=["\udfff"], stream=True), "stop[0]"),
    "user": (ask(user="\ud800"), "user"),
}


@pytest.mark.parametrize("body, where", V1_BODIES.values(), ids=V1_BODIES.keys())
def test_v1_refuses_a_lone_surrogate_anywhere_with_a_400_naming_it(post, sim, body, where):
    r = post(V1, body)
    assert r.status_code == 400, r.content
    error = r.json()["error"]
    assert error["param"] == where and "surrogate" in error["message"]
    nothing_happened_upstream(sim)


@pytest.mark.parametrize(
    "body",
    [
        {"messages": [{"role": "user", "content": "hi \ud800"}]},
        {"messages": [{"role": "user", "content": "hi"}], "context": "\udbff"},
        {"messages": [{"role": "user", "content": "hi", "n\ud800": 1}]},
        {"messages": [{"role": "user", "content": "hi"}], "\ud800": 1},
    ],
)
def test_api_llm_chat_refuses_a_lone_surrogate_anywhere_with_a_400(post, sim, body):
    r = post(API, body)
    assert r.status_code == 400, r.content
    assert "surrogate" in r.json()["detail"].lower()
    nothing_happened_upstream(sim)


def test_the_next_innocent_request_is_served_by_the_first_provider(post, sim):
    post(V1, ask("hi \ud800", stream=True))
    r = post(V1, ask("hello"))
    assert r.status_code == 200 and r["x-d8-provider"] == "groq"


@pytest.mark.parametrize("deterministic", [False, True])  # through the response cache too
def test_the_python_api_gets_a_failed_outcome_and_no_provider_is_touched(
    use_providers, sim, settings, deterministic
):
    from llmfallback.manager import LLMFallbackManager

    settings.LLM_CACHE_DETERMINISTIC = deterministic
    messages = [{"role": "user", "content": "hi \ud800"}]
    outcome = LLMFallbackManager().ask(messages, temperature=0)
    assert outcome.provider == "failed" and "surrogate" in outcome.error.message
    assert outcome.escalation is None
    nothing_happened_upstream(sim)


# --- Provider text ----------------------------------------------------------------------------

CUT = "cut \\ud83d"  # JSON text: an emoji's high half, and no low half after it


def groq_answers(handler):
    runtime().providers["groq"].client = httpx.Client(transport=httpx.MockTransport(handler))


def whole(request):
    body = (
        '{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"llama-3.3-70b-versatile",'
        '"choices":[{"index":0,"message":{"role":"assistant","content":"' + CUT + '"},'
        '"finish_reason":"length"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}'
    )
    return httpx.Response(200, content=body.encode(), headers={"content-type": "application/json"})


def streamed(request):
    def chunk(delta, finish=None):
        choice = '{"index":0,"delta":' + delta + ',"finish_reason":' + json.dumps(finish) + "}"
        return f'data: {{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{choice}]}}\n\n'

    body = chunk('{"role":"assistant","content":"' + CUT + '"}') + chunk("{}", "length")
    body += "data: [DONE]\n\n"
    return httpx.Response(200, content=body.encode(), headers={"content-type": "text/event-stream"})


def test_a_lone_surrogate_in_a_providers_answer_becomes_the_replacement_character(post):
    groq_answers(whole)
    for url, text in (
        (V1, lambda r: r.json()["choices"][0]["message"]["content"]),
        (API, lambda r: r.json()["content"]),
    ):
        r = post(
            url,
            {"model": "groq/llama-3.3-70b-versatile"} | ask()
            if url == V1
            else {"messages": [{"role": "user", "content": "hi"}]},
        )
        assert r.status_code == 200, r.content
        assert text(r) == "cut \ufffd"


def test_a_lone_surrogate_in_a_streamed_answer_becomes_the_replacement_character(post):
    groq_answers(streamed)
    r = post(V1, ask(model="groq/llama-3.3-70b-versatile", stream=True))
    assert r.status_code == 200
    body = b"".join(r.streaming_content).decode("utf-8")  # strict: valid UTF-8 throughout
    assert "cut \ufffd" in body and body.endswith("data: [DONE]\n\n")
