import httpx
import pytest

from llmfallback.providers import redact
from llmfallback.providers.retry_hints import (
    from_headers,
    from_message,
    go_duration,
    protobuf_duration,
    until_pacific_midnight,
)


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("9m38.016s", 578.016),
        ("2m59.56s", 179.56),
        ("172ms", 0.172),
        ("1h2m3s", 3723),
        ("7.66s", 7.66),
    ],
)
def test_groq_go_durations_parse(text, seconds):
    assert go_duration(text) == pytest.approx(seconds)


def test_go_duration_rejects_other_text():
    assert go_duration("soon") is None and go_duration("") is None


def test_message_hint_finds_groq_and_gemini_phrasings():
    assert from_message("Please try again in 9m38.016s. Need more tokens?") == pytest.approx(
        578.016
    )
    assert from_message("Please retry in 20.04466179s.") == pytest.approx(20.04466179)
    assert from_message("Resource has been exhausted (e.g. check quota).") is None


def test_protobuf_durations_parse():
    assert protobuf_duration("37s") == 37 and protobuf_duration("0.5s") == 0.5
    assert protobuf_duration(None) is None and protobuf_duration("soon") is None


def test_header_precedence_and_formats():
    now = 1_750_000_000.0
    assert (
        from_headers(httpx.Headers({"retry-after-ms": "250", "retry-after": "9"}), now=now) == 0.25
    )
    assert from_headers(httpx.Headers({"retry-after": "9"}), now=now) == 9
    date = httpx.Headers({"retry-after": "Sun, 15 Jun 2025 15:08:20 GMT"})
    assert from_headers(date, now=now) == pytest.approx(100)
    past = httpx.Headers({"retry-after": "Sun, 15 Jun 2025 15:00:00 GMT"})
    assert from_headers(past, now=now) == 0
    assert from_headers(httpx.Headers({"retry-after": "whenever"}), now=now) is None
    assert from_headers(httpx.Headers(), now=now) is None


def test_pacific_midnight_is_within_a_day():
    wait = until_pacific_midnight(1_750_000_000.0)  # 2025-06-15 08:06:40 PDT
    assert wait == pytest.approx(15 * 3600 + 53 * 60 + 20)


def test_redact_masks_given_secrets_and_key_shapes():
    text = "bad key my-own-secret; also gsk_abcdefghij1234 sk-proj-abcdefgh12 AIzaSyABCDEFGH12345"
    out = redact(text, ["my-own-secret"])
    for leaked in (
        "my-own-secret",
        "gsk_abcdefghij1234",
        "sk-proj-abcdefgh12",
        "AIzaSyABCDEFGH12345",
    ):
        assert leaked not in out
    assert "gsk_***" in out


def test_redact_masks_keys_in_query_strings_and_caps_length():
    assert "abc123" not in redact("GET /v1beta/models?key=abc123&alt=sse")
    assert len(redact("x" * 5000)) == 500
