"""Property: whatever a provider sends, an adapter answers a valid Completion or a ProviderError.

Both wire formats go through HTTPProvider.chat with an httpx.MockTransport fed the captured real
bodies (tests/providers/fixtures), mutated (truncated, any nested value swapped for another type,
nested deeply), random bytes and random JSON, with random statuses 100-599 and hostile headers.
Deterministic (derandomized, no example database) so CI sees the same examples every run;
FUZZ_EXAMPLES=5000 (and FUZZ_RANDOM=1 for fresh examples) explores further by hand.
"""

import json
import math
import os

import httpx
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from llmfallback.core.errors import MAX_WAIT_S, ProviderError
from llmfallback.core.types import Completion
from llmfallback.providers import Gemini, OpenAICompatible
from tests.providers.helpers import FIXTURES, GEMINI_KEY, GROQ_KEY, NOW, TIMEOUTS, client_for, hello

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "400"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("FUZZ_RANDOM"),  # FUZZ_RANDOM=1: new examples each run
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

BODIES = {p.name: p.read_bytes() for p in sorted(FIXTURES.iterdir()) if p.name != "SOURCES.md"}
JSON_BODIES = {}
for _name, _raw in BODIES.items():
    try:
        JSON_BODIES[_name] = json.loads(_raw)
    except ValueError:
        pass
ALL_JSON = tuple(sorted(JSON_BODIES))
SECRETS = (GROQ_KEY.secret, GEMINI_KEY.secret)

# -- what a provider may send ---------------------------------------------------------------

leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["", " \n", "0", "-1", "1e999", "NaN", "STOP", "length", "MAX_TOKENS"]),
    st.sampled_from(["SAFETY", "content_filter", "RESOURCE_EXHAUSTED", "limit: 0", *SECRETS]),
)
json_values = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, (*prefix, i))


def _replaced(doc, path, value):
    if not path:
        return value
    copy = dict(doc) if isinstance(doc, dict) else list(doc)
    copy[path[0]] = _replaced(doc[path[0]], path[1:], value)
    return copy


_DEEP = "\u2063deep\u2063"  # stands in for a deeply nested value json.dumps could not encode


@st.composite
def mutated_json(draw, names=ALL_JSON):
    """A real body with one to three nested values swapped for values of any type."""
    doc = JSON_BODIES[draw(st.sampled_from(names))]
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(_paths(doc))))
        doc = _replaced(doc, path, draw(json_values | st.just(_DEEP)))
    text = json.dumps(doc, allow_nan=True)
    depth = draw(st.sampled_from([2, 900, 3000, 100_000]))
    text = text.replace(json.dumps(_DEEP), "[" * depth + "{}" + "]" * depth)
    return text.encode() if draw(st.booleans()) else b"\n\n" + text.encode()


@st.composite
def truncated(draw):
    raw = BODIES[draw(st.sampled_from(sorted(BODIES)))]
    return raw[: draw(st.integers(0, len(raw)))]


@st.composite
def deep(draw):
    depth = draw(st.sampled_from([50, 999, 1001, 5000, 200_000]))
    opener = draw(
        st.sampled_from([b"[", b'{"a":', b'{"error":', b'{"choices":', b'{"candidates":'])
    )
    closer = b"]" if opener == b"[" else b"}"
    return opener * depth + b"1" + closer * depth


@st.composite
def with_secret(draw):
    raw = draw(st.sampled_from(sorted(BODIES.values())))
    at = draw(st.integers(0, len(raw)))
    return raw[:at] + draw(st.sampled_from(SECRETS)).encode() + raw[at:]


bodies = st.one_of(
    st.sampled_from(sorted(BODIES.values())),
    truncated(),
    mutated_json(),
    deep(),
    with_secret(),
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v, allow_nan=True).encode()),
)

header_values = st.one_of(
    st.sampled_from(
        [
            "inf",
            "-inf",
            "nan",
            "-5",
            "1e15",
            "1e308",
            "9" * 400,
            "",
            "0",
            "Fri, 31 Dec 9999 23:59:59 GMT",
            "Mon, 01 Jan 0001 00:00:00 +2359",
            "Thu, 01 Jan 1970 00:00:00 GMT",
            "Sun, 15 Jun 2025 15:08:20 GMT",
            "2m59.56s",
        ]
    ),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
)
headers = st.dictionaries(
    st.sampled_from(["retry-after", "retry-after-ms", "content-type", "x-ratelimit-reset-tokens"]),
    header_values,
    max_size=3,
)
statuses = st.one_of(
    st.integers(100, 599), st.sampled_from([200, 400, 401, 402, 403, 413, 429, 503])
)

# -- the property --------------------------------------------------------------------------

_reply = {}


def _handler(request: httpx.Request) -> httpx.Response:
    return httpx.Response(_reply["status"], content=_reply["body"], headers=_reply["headers"])


ADAPTERS = [
    (
        OpenAICompatible(
            name="groq",
            base_url="https://api.groq.com/openai/v1",
            model="llama-3.3-70b-versatile",
            client=client_for(_handler),
            keys=(GROQ_KEY,),
            wallclock=lambda: NOW,
        ),
        GROQ_KEY,
    ),
    (
        Gemini(
            name="gemini",
            base_url="https://generativelanguage.googleapis.com/v1beta",
            model="gemini-2.5-flash",
            client=client_for(_handler),
            keys=(GEMINI_KEY,),
            wallclock=lambda: NOW,
        ),
        GEMINI_KEY,
    ),
]


def assert_only_classified_outcomes(adapter, status, body, reply_headers, json_mode):
    provider, key = ADAPTERS[adapter]
    _reply.update(status=status, body=body, headers=reply_headers)
    try:
        result = provider.chat(hello(json_mode=json_mode), key=key, timeouts=TIMEOUTS)
    except ProviderError as error:
        event(type(error).__name__)  # pytest --hypothesis-show-statistics shows the mix
        assert_sane_error(error, key.secret)
    else:
        event("Completion")
        assert_valid_completion(result, status, json_mode)


def assert_sane_error(error: ProviderError, secret: str) -> None:
    wait = error.retry_after
    assert wait is None or (math.isfinite(wait) and 0 <= wait <= MAX_WAIT_S), wait
    assert isinstance(error.message, str) and isinstance(error.code, (str, type(None)))
    said = " ".join([error.message, str(error), repr(error), error.code or ""])
    # Not the key, nor any long piece of it (a message cut short mid-key).
    assert not any(secret[i : i + 12] in said for i in range(len(secret) - 11)), said


def assert_valid_completion(result: Completion, status: int, json_mode: bool) -> None:
    assert 200 <= status < 300
    assert isinstance(result.content, str) and result.content.strip()
    assert isinstance(result.model, str) and result.model
    assert isinstance(result.finish_reason, (str, type(None)))
    for count in (result.usage.prompt_tokens, result.usage.completion_tokens):
        assert isinstance(count, int) and 0 <= count < 2**31
    if json_mode:
        json.loads(result.content)


@FUZZ
@given(
    adapter=st.sampled_from([0, 1]),
    status=statuses,
    body=bodies,
    reply_headers=headers,
    json_mode=st.booleans(),
)
def test_any_reply_is_a_completion_or_a_classified_error(
    adapter, status, body, reply_headers, json_mode
):
    assert_only_classified_outcomes(adapter, status, body, reply_headers, json_mode)


SUCCESSES = {0: ("groq_text.json", "deepseek_text.json"), 1: ("gemini_text.json",)}


@FUZZ
@given(data=st.data(), adapter=st.sampled_from([0, 1]))
def test_real_success_bodies_with_odd_types_never_crash(data, adapter):
    body = data.draw(mutated_json(SUCCESSES[adapter]), label="body")
    assert_only_classified_outcomes(adapter, 200, body, {}, json_mode=False)


@FUZZ
@given(
    adapter=st.sampled_from([0, 1]),
    status=st.sampled_from([429, 503, 500, 498, 408, 200]),
    reply_headers=headers,
    body=st.sampled_from(sorted(BODIES.values())),
)
def test_hostile_wait_hints_are_finite_and_capped(adapter, status, reply_headers, body):
    assert_only_classified_outcomes(adapter, status, body, reply_headers, False)
