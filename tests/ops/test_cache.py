"""The opt-in response cache: hits cost no provider call, errors are never kept, keys are exact."""

import secrets
import time
from dataclasses import replace

import pytest
import redis
from django.core.cache import caches

from llmfallback import services
from llmfallback.access import agent_keys
from llmfallback.core.types import ChatRequest, ChatResult, Completion, JsonSchema, Tool, Usage
from llmfallback.manager import LLMFallbackManager
from llmfallback.ops import cache
from llmfallback.runtime import runtime_reset
from llmfallback.selectors import cache_counts
from tests.conftest import REDIS_URL
from tests.v1.conftest import WEATHER_TOOL, ask

pytestmark = pytest.mark.django_db

CHAT = "/api/llm/chat"
V1 = "/v1/chat/completions"
HELLO = [{"role": "user", "content": "hello"}]
LOCMEM = "django.core.cache.backends.locmem.LocMemCache"


@pytest.fixture(autouse=True)
def empty_cache(settings):
    """A fresh local-memory cache per test, whatever REDIS_URL says: clearing a shared Redis
    would flush its whole db under other tests and workers."""
    location = f"d8-cache-test-{secrets.token_hex(4)}"
    settings.CACHES = {"default": {"BACKEND": LOCMEM, "LOCATION": location}}


def called(sim) -> dict[str, int]:
    return {name: n for name, n in sim.calls().items() if n}


def chat(client, text="hello", headers=None, **extra):
    body = {"messages": [{"role": "user", "content": text}], **extra}
    return client.post(CHAT, body, format="json", headers=headers or {})


# --- /api/llm/chat ---------------------------------------------------------------------------


def test_an_opted_in_repeat_is_answered_from_the_cache_without_a_provider_call(
    agent, use_providers, sim
):
    first, second = chat(agent, cache=True), chat(agent, cache=True)
    assert first.status_code == second.status_code == 200
    assert (first.json()["cached"], second.json()["cached"]) == (False, True)
    assert second.json()["content"] == first.json()["content"]
    assert second.json()["provider"] == "groq" and second.json()["attempts"] == []
    assert called(sim) == {"groq": 1}
    assert agent.get("/api/llm/health").json()["cache"] == {"hits": 1, "misses": 1}


def test_a_cached_answer_is_one_more_request_of_the_agent_and_spends_no_tokens(
    agent, use_providers, sim
):
    first, _ = chat(agent, cache=True), chat(agent, cache=True)
    [me] = agent.get("/api/llm/health").json()["agents"]
    assert me["usage"]["requests_total"] == 2
    assert me["usage"]["tokens_total"] == first.json()["usage"]["total_tokens"] > 0


def test_without_an_opt_in_every_request_reaches_a_provider(agent, use_providers, sim):
    assert ["cached" in chat(agent).json() for _ in range(2)] == [False, False]
    assert called(sim) == {"groq": 2}
    assert cache_counts() == {"hits": 0, "misses": 0}


def test_the_header_opts_in_and_cache_control_no_cache_bypasses(agent, use_providers, sim):
    chat(agent, headers={"X-D8-Cache": "use"})
    assert chat(agent, headers={"X-D8-Cache": "use"}).json()["cached"] is True
    bypass = chat(agent, cache=True, headers={"Cache-Control": "no-cache"})
    assert "cached" not in bypass.json()  # not consulted at all
    assert called(sim) == {"groq": 2}


def test_another_agent_key_never_gets_an_answer_cached_for_this_one(
    agent, operator, use_providers, sim
):
    chat(agent, cache=True)
    assert chat(agent, cache=True).json()["cached"] is True
    assert chat(operator, cache=True).json()["cached"] is False  # asked a provider itself
    assert chat(operator, cache=True).json()["cached"] is True  # then its own entry
    assert called(sim) == {"groq": 2}


def test_another_key_sending_the_same_v1_body_misses_too(agent, operator, use_providers, sim):
    use = {"HTTP_X_D8_CACHE": "use"}
    first = agent.post(V1, ask("hello"), format="json", **use)
    other = operator.post(V1, ask("hello"), format="json", **use)
    assert (first["x-d8-cache"], other["x-d8-cache"]) == ("miss", "miss")
    assert other.json()["created"] >= first.json()["created"] and called(sim) == {"groq": 2}


def test_deterministic_caching_is_per_key_too(agent, operator, settings, use_providers, sim):
    settings.LLM_CACHE_DETERMINISTIC = True
    for client in (agent, operator, agent, operator):
        chat(client, temperature=0)
    assert called(sim) == {"groq": 2}
    assert cache_counts() == {"hits": 2, "misses": 2}


def test_operators_may_share_entries_across_keys(agent, operator, settings, use_providers, sim):
    settings.LLM_CACHE_SHARED = True
    chat(agent, cache=True)
    assert chat(operator, cache=True).json()["cached"] is True
    assert called(sim) == {"groq": 1}


def test_the_python_api_and_an_agent_key_never_share_entries(agent, use_providers, sim):
    chat(agent, cache=True)
    request = ChatRequest.from_dicts(HELLO)
    assert cache.status(services.llm_chat(request=request, cache=True)) == "miss"
    assert called(sim) == {"groq": 2}


def test_a_failed_request_is_not_cached_and_the_next_one_asks_again(agent, use_providers, sim):
    for name in ("groq", "gemini", "deepseek"):
        sim.script(name, [{"behavior": "bad_request"}])
    failed = chat(agent, cache=True)
    assert failed.status_code == 400
    calls = sum(sim.calls().values())
    answered = chat(agent, cache=True)
    assert answered.status_code == 200 and answered.json()["cached"] is False
    assert sum(sim.calls().values()) == calls + 1
    assert chat(agent, cache=True).json()["cached"] is True
    assert cache_counts() == {"hits": 1, "misses": 2}


def test_the_cache_field_must_be_a_boolean(agent, use_providers, sim):
    r = chat(agent, cache="sometimes")
    assert r.status_code == 400 and "cache" in r.json()


# --- /v1 -------------------------------------------------------------------------------------


def v1(client, body, **headers):
    return client.post(V1, body, format="json", headers=headers)


def test_v1_cache_control_no_cache_bypasses_an_opt_in(agent, use_providers, sim):
    v1(agent, ask("Hi"), **{"X-D8-Cache": "use"})
    bypass = v1(agent, ask("Hi"), **{"X-D8-Cache": "use", "Cache-Control": "no-cache"})
    assert "x-d8-cache" not in bypass and called(sim) == {"groq": 2}


def test_v1_marks_misses_and_hits_in_a_header_and_x_d8(agent, use_providers, sim):
    first = v1(agent, ask("Hi"), **{"X-D8-Cache": "use"})
    second = v1(agent, ask("Hi"), **{"X-D8-Cache": "use"})
    assert (first["x-d8-cache"], second["x-d8-cache"]) == ("miss", "hit")
    assert (first.json()["x_d8"]["cached"], second.json()["x_d8"]["cached"]) == (False, True)
    assert second.json()["choices"] == first.json()["choices"]
    assert second.json()["id"] != first.json()["id"]  # each answer has its own id
    assert called(sim) == {"groq": 1}


def test_v1_without_the_header_says_nothing_about_the_cache(agent, use_providers, sim):
    r = v1(agent, ask("Hi"))
    assert "x-d8-cache" not in r.headers and "cached" not in r.json()["x_d8"]


def test_v1_a_tool_call_answer_is_cached(agent, use_providers, sim):
    sim.script("groq", [{"behavior": "tool_call", "arguments": {"city": "Paris"}}])
    body = ask("Weather in Paris?", tools=[WEATHER_TOOL])
    first, second = (v1(agent, body, **{"X-D8-Cache": "use"}) for _ in range(2))
    assert second["x-d8-cache"] == "hit"
    assert second.json()["choices"][0]["finish_reason"] == "tool_calls"
    assert second.json()["choices"][0]["message"] == first.json()["choices"][0]["message"]
    assert called(sim) == {"groq": 1}


def test_v1_another_route_or_option_is_another_entry(agent, use_providers, sim):
    use = {"X-D8-Cache": "use"}
    v1(agent, ask("Hi"), **use)
    assert v1(agent, ask("Hi", model="gemini"), **use)["x-d8-cache"] == "miss"
    assert v1(agent, ask("Hi", temperature=0.1), **use)["x-d8-cache"] == "miss"
    assert v1(agent, ask("Hi", model="gemini"), **use)["x-d8-cache"] == "hit"
    assert called(sim) == {"groq": 2, "gemini": 1}


def test_v1_streams_are_never_served_from_the_cache(agent, use_providers, sim):
    use = {"X-D8-Cache": "use"}
    v1(agent, ask("Hi"), **use)
    streamed = v1(agent, ask("Hi", stream=True), **use)
    b"".join(streamed.streaming_content)
    assert "x-d8-cache" not in streamed.headers
    assert called(sim) == {"groq": 2}


def test_the_openai_sdk_opts_in_with_extra_headers(live_server, use_providers, sim):
    import openai

    _, raw = agent_keys.agent_key_create(name="sdk-agent")
    with openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=raw, max_retries=0) as client:
        answers = [
            client.chat.completions.with_raw_response.create(
                **ask("Hi"), extra_headers={"X-D8-Cache": "use"}
            )
            for _ in range(2)
        ]
    assert [a.headers["x-d8-cache"] for a in answers] == ["miss", "hit"]
    assert answers[1].parse().choices[0].message.content == "[groq] Hi"
    assert called(sim) == {"groq": 1}


# --- The Python API and the configuration ----------------------------------------------------


def test_deterministic_requests_are_cached_by_configuration(settings, use_providers, sim):
    settings.LLM_CACHE_DETERMINISTIC = True
    manager = LLMFallbackManager()
    assert manager.chat(HELLO, temperature=0) == manager.chat(HELLO, temperature=0)
    manager.chat(HELLO, temperature=0.7)
    manager.chat(HELLO, temperature=0.7)
    assert called(sim) == {"groq": 3}
    assert manager.ask(HELLO, temperature=0).result.cache == "hit"


def test_a_python_caller_may_opt_in_or_out_per_call(settings, use_providers, sim):
    settings.LLM_CACHE_DETERMINISTIC = True
    request = ChatRequest.from_dicts(HELLO, temperature=0)
    assert services.llm_chat(request=request, cache=False).__class__ is ChatResult
    assert cache.status(services.llm_chat(request=request)) == "miss"
    assert cache.status(services.llm_chat(request=request, cache=True)) == "hit"
    assert called(sim) == {"groq": 2}


def test_a_ttl_of_zero_turns_the_cache_off(settings, use_providers, sim):
    settings.LLM_CACHE_TTL_S = 0
    request = ChatRequest.from_dicts(HELLO)
    results = [services.llm_chat(request=request, cache=True) for _ in range(2)]
    assert [cache.status(r) for r in results] == [None, None]
    assert called(sim) == {"groq": 2}


def test_an_entry_expires_after_the_ttl_by_the_callers_clock(settings, use_providers, sim):
    settings.LLM_CACHE_TTL_S = 60
    now = [time.time()]
    request = ChatRequest.from_dicts(HELLO)

    def ask_at(offset):
        return cache.status(
            services.llm_chat(request=request, cache=True, clock=lambda: now[0] + offset)
        )

    assert [ask_at(0), ask_at(59), ask_at(61), ask_at(62)] == ["miss", "hit", "miss", "hit"]
    assert called(sim) == {"groq": 2}


# --- Keys and what is kept -------------------------------------------------------------------

BASE = ChatRequest.from_dicts(HELLO, temperature=0)
ROUTE = ["groq", "gemini", "deepseek"]


@pytest.mark.parametrize(
    "changed",
    [
        replace(BASE, temperature=0.2),
        replace(BASE, max_tokens=10),
        replace(BASE, json_mode=True),
        replace(BASE, context="other"),
        replace(BASE, seed=7),
        replace(BASE, stop=("END",)),
        replace(BASE, top_p=0.5),
        replace(BASE, tools=(Tool("get_weather"),)),
        replace(BASE, json_schema=JsonSchema("answer", {"type": "object"})),
        ChatRequest.from_dicts([{"role": "system", "content": "terse"}, *HELLO], temperature=0),
    ],
)
def test_every_option_changes_the_key(changed):
    assert cache.key_for(changed, ROUTE) != cache.key_for(BASE, ROUTE)


def test_the_key_is_stable_and_follows_the_route_not_dict_order():
    a = replace(BASE, tools=(Tool("f", parameters={"type": "object", "properties": {}}),))
    b = replace(BASE, tools=(Tool("f", parameters={"properties": {}, "type": "object"}),))
    assert cache.key_for(a, ROUTE) == cache.key_for(b, list(ROUTE))
    assert cache.key_for(BASE, ROUTE) != cache.key_for(BASE, ["gemini", "groq", "deepseek"])
    assert cache.key_for(BASE, ROUTE).startswith(cache.KEY_PREFIX)
    assert cache.key_for(replace(BASE, temperature=0.0), ROUTE) == cache.key_for(
        replace(BASE, temperature=0), ROUTE
    )


def test_an_entry_this_version_did_not_write_is_a_miss():
    caches["default"].set("d8:llm-cache:v1:x", ("soon", answer()))
    caches["default"].set("d8:llm-cache:v1:y", {"content": "forged"})
    assert cache.lookup("d8:llm-cache:v1:x", now=0) is None
    assert cache.lookup("d8:llm-cache:v1:y", now=0) is None


def answer(content="hi", finish="stop", calls=()):
    completion = Completion(content, "m", Usage(), finish, calls)
    return ChatResult(content or "", "groq", "m", Usage(), "k1", (), completion)


@pytest.mark.parametrize("finish", ["length", "content_filter"])
def test_cut_off_filtered_and_empty_answers_are_not_kept(finish):
    assert not cache.cacheable(answer(finish=finish))
    assert not cache.cacheable(answer(content=""))
    assert cache.cacheable(answer())


@pytest.mark.parametrize(
    "headers, field, wanted",
    [
        ({}, None, None),
        ({"X-D8-Cache": "USE"}, None, True),
        ({}, True, True),
        ({"X-D8-Cache": "use", "Cache-Control": "max-age=0, no-store"}, None, False),
        ({"X-D8-Cache": "bypass"}, True, False),
        ({"X-D8-Cache": "maybe"}, None, None),
    ],
)
def test_the_callers_choice_from_headers_and_field(headers, field, wanted):
    assert cache.wanted(headers, field) is wanted


# --- Redis (scale-out) -----------------------------------------------------------------------


@pytest.fixture
def redis_cache(settings):
    prefix = f"d8test{secrets.token_hex(4)}"
    location = REDIS_URL
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": location,
            "KEY_PREFIX": prefix,
        }
    }
    client = redis.Redis.from_url(location)
    yield client, prefix
    for key in client.scan_iter(f"{prefix}:*"):  # only ours: other tests share this db
        client.delete(key)


def test_entries_are_shared_through_redis(redis_cache, use_providers, sim):
    client, prefix = redis_cache
    request = ChatRequest.from_dicts(HELLO)
    assert cache.status(services.llm_chat(request=request, cache=True)) == "miss"
    assert list(client.scan_iter(f"{prefix}:*{cache.KEY_PREFIX}*"))
    runtime_reset()  # another worker: nothing of the first one's memory
    assert cache.status(services.llm_chat(request=request, cache=True)) == "hit"
    assert called(sim) == {"groq": 1}


def test_a_cache_outage_is_a_miss_and_the_chat_still_answers(settings, use_providers, sim):
    settings.CACHES = settings.CACHES | {
        "down": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        }
    }
    settings.LLM_CACHE_ALIAS = "down"
    request = ChatRequest.from_dicts(HELLO)
    results = [services.llm_chat(request=request, cache=True) for _ in range(2)]
    assert [r.content for r in results] == [results[0].content] * 2 and results[0].content
    assert called(sim) == {"groq": 2}


@pytest.mark.parametrize(
    "path, body",
    [
        (
            "/v1/messages",
            {"model": "auto", "max_tokens": 50, "messages": [{"role": "user", "content": "Hi"}]},
        ),
        ("/v1/responses", {"model": "auto", "input": "Hi", "temperature": 0}),
    ],
)
def test_the_other_faces_use_the_cache_and_say_so(agent, use_providers, sim, path, body):
    post = lambda: agent.post(path, body, format="json", HTTP_X_D8_CACHE="use")  # noqa: E731
    first, second = post(), post()
    assert (first["x-d8-cache"], second["x-d8-cache"]) == ("miss", "hit")
    assert called(sim) == {"groq": 1}
