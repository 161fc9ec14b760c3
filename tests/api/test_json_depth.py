"""The depth check may skip its walk only when the body cannot nest past the limit."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from d8site.api.parsers import _may_nest_deeper, json_depth

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet="{[a]} "),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=40,
)


@settings(max_examples=300, derandomize=True)
@given(JSON, st.integers(min_value=0, max_value=12))
def test_a_skipped_walk_never_hides_a_body_too_deep(data, limit):
    body = json.dumps(data).encode()
    if not _may_nest_deeper(body, limit):
        assert json_depth(data) <= limit
