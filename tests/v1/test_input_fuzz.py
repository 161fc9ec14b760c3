"""Property: whatever a caller sends to a chat endpoint, the answer is never a 5xx of our own, and
no provider's state changes unless a provider was called (issue 24, item 6).

Each endpoint's valid body is mutated by Hypothesis: any value swapped for arbitrary JSON (wrong
types, lone surrogates, NUL, huge numbers such as 1e400 and 10**400, nesting), fields added or
removed, or the body replaced whole. The providers are the loopback simulator, healthy, so a 503
can only follow a provider's own failure in the same example. Derandomized (no example
database): CI sees the same examples every run; FUZZ_EXAMPLES=2000 FUZZ_RANDOM=1 explores more.
"""

from __future__ import annotations

import copy
import json
import os

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmfallback.access import agent_keys
from llmfallback.models import ErrorEvent, Escalation, KeyHealth, ProviderHealth
from llmfallback.runtime import runtime

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "120")),
    deadline=None,
    derandomize=not os.environ.get("FUZZ_RANDOM"),
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
HUGE = {"__huge1__": "1e400", "__huge2__": "-1e400", "__huge3__": str(10**400)}
WORDS = ["user", "system", "assistant", "tool", "developer", "text", "function", "auto"]
WORDS += ["json_object", "json_schema", "image_url", "input_text", "tool_use", "tool_result"]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([0, -1, 2**63, -(2**63) - 1, 2**64]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.sampled_from(["", "\ud800", "a\udfff", "\udbff\udbff", "\x00", "\U0001f600", *HUGE]),
    st.sampled_from(WORDS),
)
KEYS = st.one_of(st.text(max_size=6), st.sampled_from(["role", "content", "type", "text"]))
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=10,
)

USER = {"role": "user", "content": "hi"}
ENDPOINTS = {
    "/v1/chat/completions": {
        "model": "auto",
        "messages": [USER, {"role": "assistant", "content": [{"type": "text", "text": "x"}]}],
        "temperature": 0.5,
        "max_tokens": 16,
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
        "stop": ["."],
        "response_format": {"type": "text"},
        "stream_options": {"include_usage": True},
        "stream": True,
    },
    "/api/llm/chat": {"messages": [USER], "temperature": 0.5, "max_tokens": 16, "context": "c"},
    "/v1/messages": {
        "model": "auto",
        "max_tokens": 16,
        "system": "be brief",
        "messages": [USER, {"role": "assistant", "content": [{"type": "text", "text": "x"}]}],
        "stream": False,
    },
    "/v1/responses": {
        "model": "auto",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
        "instructions": "be brief",
        "max_output_tokens": 16,
        "stream": False,
    },
}


def _places(node, out):
    """Every (container, key) in a body, plus a new key in each object."""
    if isinstance(node, dict):
        out.append((node, None))
        for key, value in node.items():
            out.append((node, key))
            _places(value, out)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.append((node, i))
            _places(value, out)
    return out


@st.composite
def bodies(draw, base: dict) -> str:
    body = copy.deepcopy(base)
    if draw(st.integers(0, 9)) == 0:
        body = draw(JSON)  # anything at all at the top
    for _ in range(draw(st.integers(1, 3))):
        places = _places(body, [])
        if not places:
            break
        container, key = draw(st.sampled_from(places))
        if key is None:
            container[draw(KEYS)] = draw(JSON)
        elif draw(st.integers(0, 4)) == 0:
            del container[key]
        else:
            container[key] = draw(JSON)
    raw = json.dumps(body)  # ensure_ascii: lone surrogates travel as \ud800, as JS sends them
    for marker, literal in HUGE.items():
        raw = raw.replace(f'"{marker}"', literal)
    return raw


def health():
    """Everything a caller could change about providers, as comparable values."""
    fields = ["cooldown_until", "is_unavailable", "total_requests", "total_failures"]
    fields += ["consecutive_failures", "last_error_type"]
    return (
        sorted(ProviderHealth.objects.values_list("name", *fields, "cooldown_episodes")),
        sorted(KeyHealth.objects.values_list("provider__name", "label", *fields)),
        ErrorEvent.objects.count(),
        Escalation.objects.count(),
    )


def healthy():
    for rows in (ProviderHealth.objects, KeyHealth.objects):
        rows.update(cooldown_until=None, is_unavailable=False, consecutive_failures=0)
    ProviderHealth.objects.update(cooldown_episodes=0, probe_until=None)


@pytest.fixture
def send(use_providers, sim, settings):
    settings.LLM_SUCCESS_FLUSH_S = 0  # a success is written at once, so health is seen whole
    raw = agent_keys.agent_key_create(name="fuzz")[1]
    runtime()
    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}", "HTTP_X_API_KEY": raw}

    def post(url: str, body: str):
        response = client.post(url, body, content_type="application/json", **headers)
        content = b"".join(response.streaming_content) if response.streaming else response.content
        return response.status_code, content

    return post


def calls(sim) -> int:
    return sum(sim.calls().values())


def check(send, sim, url: str, body: str) -> None:
    healthy()
    before, called = health(), calls(sim)
    status, content = send(url, body)
    upstream = calls(sim) > called
    assert status < 500 or (status == 503 and upstream), (status, content[:300], body)
    content.decode("utf-8")  # strict: every answer is valid UTF-8
    assert b'"internal"' not in content and b"Traceback" not in content, content[:300]
    if not upstream:
        assert health() == before, body


@pytest.mark.parametrize("url", ENDPOINTS)
def test_no_input_is_a_5xx_or_changes_a_provider_without_calling_it(send, sim, url):
    @FUZZ
    @given(body=bodies(ENDPOINTS[url]))
    def run(body):
        check(send, sim, url, body)

    run()
