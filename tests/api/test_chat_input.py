"""chat_input.plainly_valid, /api/llm/chat's fast validation, says yes only where
ChatApi.InputSerializer would, and then gives exactly its validated_data (types included).

Anything it declines goes to the serializer, so its only possible harm is accepting a body the
serializer refuses, or accepting one differently: the property below looks for both.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmfallback.http import chat_input
from llmfallback.http.api import ChatApi

ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=3),
    st.sampled_from([0, 1, 2, 3, 1_000_000, 1_000_001, 2**70, -(2**70)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 2.0, 2.0000001, -0.0, 1e308]),
    st.text(max_size=6),
    st.sampled_from(["", " ", " \t\n", "\x00", "a\x00", "\ud800", "a\udfff", "0.5", "64", "true"]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
ROLE = st.one_of(
    st.sampled_from(["user", "system", "assistant"]),
    st.sampled_from(["tool", "User", " user", "user "]),
    ODD,
)
CONTENT = st.one_of(st.text(max_size=12), ODD)
GOOD_MESSAGE = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "system", "assistant"]), "content": st.text(min_size=1)}
)
MESSAGE = st.one_of(
    GOOD_MESSAGE,
    st.fixed_dictionaries({"role": ROLE, "content": CONTENT}, optional={"name": ODD}),
    st.fixed_dictionaries({}, optional={"role": ROLE, "content": CONTENT}),
    ODD,
)
GOOD = {
    "temperature": st.one_of(st.floats(0, 2), st.integers(0, 2)),
    "max_tokens": st.integers(1, 1_000_000),
    "json_mode": st.booleans(),
    "context": st.text(max_size=8),
    "cache": st.one_of(st.none(), st.booleans()),
    "stream": st.just(False),
}
EDGE = {  # the values next to the good ones, which a fast path might wrongly take
    "temperature": st.sampled_from([-0.0, -1e-9, 2.0000001, True, False, "1", None]),
    "max_tokens": st.sampled_from([0, 1_000_001, 64.0, True, "64", None]),
    "json_mode": st.sampled_from([0, 1, "true", None]),
    "context": st.sampled_from([" \t", " a ", "\x00", " \ud800 ", "c" * 2001, None, 5]),
    "cache": st.sampled_from([0, 1, "false"]),
    "stream": st.sampled_from([True, 0, None, "false"]),
    "model": ODD,
    "messages": st.one_of(st.just([]), ODD),
}


@st.composite
def bodies(draw):
    """A valid body, then up to three changes that may or may not spoil it: random bodies
    alone would almost never reach the fast path's yes, and so prove nothing about it."""
    messages = [{"role": "user", "content": "hi"}, *draw(st.lists(GOOD_MESSAGE, max_size=3))]
    body = {"messages": draw(st.permutations(messages))}
    for name in draw(st.sets(st.sampled_from(sorted(GOOD)))):
        body[name] = draw(GOOD[name])
    for _ in range(draw(st.integers(0, 3))):
        what = draw(st.sampled_from([*EDGE, "a message"]))
        if what == "a message":
            kept = body["messages"] if isinstance(body["messages"], list) else []
            at = draw(st.integers(0, max(0, len(kept) - 1)))
            body["messages"] = [*kept[:at], draw(MESSAGE), *kept[at + 1 :]]
        else:
            body[what] = draw(EDGE[what])
    return body


BODY = bodies()


def serializer_says(data):
    serializer = ChatApi.InputSerializer(data=data)
    return serializer.validated_data if serializer.is_valid() else None


def same(a, b) -> bool:
    """Equal in value and in type: 1 and 1.0, or True and 1, are different answers here."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@pytest.mark.same_on_any_database
@settings(max_examples=1500, derandomize=True, database=None, deadline=None)
@given(BODY)
def test_the_fast_path_accepts_only_what_the_serializer_accepts_and_the_same_way(body):
    fast = chat_input.plainly_valid(body)
    if fast is not None:
        slow = serializer_says(body)
        assert slow is not None, f"accepted a body the serializer refuses: {body!r}"
        assert same(fast, slow), (fast, slow)


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "role": st.sampled_from(["user", "system", "assistant"]),
                "content": st.text(min_size=1),
            }
        ),
        min_size=1,
        max_size=5,
    ),
    st.floats(min_value=0, max_value=2),
    st.integers(min_value=1, max_value=1_000_000),
    st.text(max_size=30),
)
def test_ordinary_bodies_take_the_fast_path_with_the_serializers_answer(
    messages, temperature, max_tokens, context
):
    """Not only safe but used: the bodies agents send skip the serializer (when it would
    accept them), or the fast path buys nothing."""
    body = {
        "messages": [{"role": "user", "content": "hi"}, *messages],
        "temperature": temperature,
        "max_tokens": max_tokens,
        "context": context,
    }
    slow = serializer_says(body)
    fast = chat_input.plainly_valid(body)
    assert (fast is None) == (slow is None), (body, slow)
    if fast is not None:
        assert same(fast, slow)


@pytest.mark.parametrize(
    ("body", "fast"),
    [
        ({"messages": [{"role": "user", "content": "x"}] * 1000}, True),
        ({"messages": [{"role": "user", "content": "x"}] * 1001}, False),
        ({"messages": [{"role": "user", "content": "x" * 200_000}]}, True),
        ({"messages": [{"role": "user", "content": "x" * 200_001}]}, False),
        ({"messages": [{"role": "user", "content": "x"}], "context": f"  {'c' * 2000}\n"}, True),
        ({"messages": [{"role": "user", "content": "x"}], "context": "c" * 2001}, False),
        ({"messages": [{"role": "user", "content": "   "}]}, True),  # not trimmed, not blank
        ({"messages": [{"role": "system", "content": "x"}]}, False),  # no user message
        ({"messages": [{"role": "user", "content": "x"}], "temperature": True}, False),
        ({"messages": [{"role": "user", "content": "x"}], "stream": True}, False),
    ],
)
def test_the_bounds_agree_with_the_serializer(body, fast):
    found = chat_input.plainly_valid(body)
    assert (found is not None) is fast
    if found is not None:
        assert same(found, serializer_says(body))


@pytest.mark.django_db
def test_a_refused_body_still_gets_the_serializers_400(client):
    """The fast path declines; the API's answer is the serializer's, field by field."""
    from llmfallback.access.agent_keys import agent_key_create

    _, key = agent_key_create(name="input")
    response = client.post(
        "/api/llm/chat",
        {"messages": [{"role": "user", "content": "hi"}], "max_tokens": "many"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 400
    assert response.json()["max_tokens"] == ["A valid integer is required."]
