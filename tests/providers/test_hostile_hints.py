"""Hints a broken or hostile provider may send: always a finite wait of at most a day, or none."""

import httpx
import pytest

from llmfallback.core.errors import MAX_WAIT_S
from llmfallback.providers import redact
from llmfallback.providers.retry_hints import (
    from_headers,
    from_message,
    go_duration,
    protobuf_duration,
    until_pacific_midnight,
)
from tests.providers.helpers import NOW


def waits(headers: dict) -> float | None:
    return from_headers(httpx.Headers(headers), now=NOW)


@pytest.mark.parametrize(
    "headers, expected",
    [
        ({"retry-after": "inf"}, MAX_WAIT_S),
        ({"retry-after": "Infinity"}, MAX_WAIT_S),
        ({"retry-after": "-inf"}, 0.0),
        ({"retry-after": "nan"}, None),
        ({"retry-after": "-5"}, 0.0),
        ({"retry-after": "1e308"}, MAX_WAIT_S),
        ({"retry-after": "9" * 400}, None),  # not a number anyone means
        ({"retry-after-ms": "1e15"}, MAX_WAIT_S),
        ({"retry-after-ms": "nan", "retry-after": "7"}, 7.0),
        ({"retry-after-ms": "-1"}, 0.0),
        ({"retry-after": "Fri, 31 Dec 9999 23:59:59 GMT"}, MAX_WAIT_S),
        ({"retry-after": "Mon, 01 Jan 0001 00:00:00 +2359"}, 0.0),
        ({"retry-after": "Mon, 01 Jan 0001 00:00:00 -2359"}, 0.0),
        ({"retry-after": "Thu, 01 Jan 1970 00:00:00 GMT"}, 0.0),
        ({"retry-after": "Sun, 15 Jun 99999 15:08:20 GMT"}, None),
        ({"retry-after": "Sun, 32 Foo 2025 99:99:99 GMT"}, None),
    ],
)
def test_header_hints_are_finite_and_capped_at_a_day(headers, expected):
    assert waits(headers) == expected


@pytest.mark.parametrize(
    "message, expected",
    [
        ("Please try again in 99999999999h.", MAX_WAIT_S),
        ("Please retry in 1000000000000000000000000000000000000000s.", MAX_WAIT_S),
        ("Please try again in " + "9" * 10_000 + "h", None),
        ("Please try again in 0.000ns.", 0.0),
    ],
)
def test_message_hints_are_finite_and_capped_at_a_day(message, expected):
    assert from_message(message) == expected


def test_message_hint_scan_is_bounded_for_huge_messages():
    assert from_message("x" * 5_000_000 + " retry in 5s") is None


@pytest.mark.parametrize(
    "delay, expected",
    [("1e400s", MAX_WAIT_S), ("-3s", 0.0), ("nans", None), (37, None), ({"seconds": 5}, None)],
)
def test_gemini_retry_delays_are_finite_and_capped(delay, expected):
    assert protobuf_duration(delay) == expected


def test_go_duration_sums_are_capped():
    assert go_duration("99999999999h99999999999m") == MAX_WAIT_S


@pytest.mark.parametrize("now", [float("inf"), float("nan"), 1e20, -1e20])
def test_pacific_midnight_from_an_absurd_clock_is_none_not_a_crash(now):
    assert until_pacific_midnight(now) is None


def test_a_key_cut_short_at_the_end_of_a_message_is_masked():
    secret = "my-very-own-secret-123456"
    assert redact("echo: " + secret[:12], [secret]) == "echo: ***"
    assert redact("ordinary words", [secret]) == "ordinary words"
