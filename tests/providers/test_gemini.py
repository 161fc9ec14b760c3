import json

import pytest

from llmfallback.core.errors import (
    AuthFailed,
    BadRequest,
    ContentFiltered,
    InvalidResponse,
    ProviderTimeout,
    QuotaExceeded,
    RateLimited,
    Unavailable,
)
from llmfallback.providers import Gemini
from llmfallback.providers.retry_hints import until_pacific_midnight
from tests.providers.helpers import GEMINI_KEY, NOW, TIMEOUTS, client_for, fixture, hello, replying


def gemini(handler) -> Gemini:
    return Gemini(
        name="gemini",
        base_url="https://generativelanguage.googleapis.com/v1beta",
        model="gemini-2.5-flash",
        client=client_for(handler),
        keys=(GEMINI_KEY,),
        wallclock=lambda: NOW,
    )


def fail(status, body, request=None):
    with pytest.raises(Exception) as info:
        gemini(replying(status, body)).chat(request or hello(), key=GEMINI_KEY, timeouts=TIMEOUTS)
    return info.value


def answer(parts, finish="STOP") -> str:
    return json.dumps(
        {"candidates": [{"content": {"parts": parts, "role": "model"}, "finishReason": finish}]}
    )


def test_key_goes_in_the_header_and_never_in_the_url():
    seen = []
    gemini(replying(200, fixture("gemini_text.json"), seen=seen)).chat(
        hello(), key=GEMINI_KEY, timeouts=TIMEOUTS
    )
    request = seen[0]
    assert request.headers["x-goog-api-key"] == GEMINI_KEY.secret
    assert GEMINI_KEY.secret not in str(request.url)
    assert request.url.query == b""
    assert str(request.url) == (
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
    )


def test_payload_maps_roles_system_instruction_and_generation_config():
    seen = []
    answer_json = answer([{"text": '{"r": 3}'}])
    gemini(replying(200, answer_json, seen=seen)).chat(
        hello(json_mode=True), key=GEMINI_KEY, timeouts=TIMEOUTS
    )
    body = json.loads(seen[0].content)
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    assert body["contents"][0]["parts"] == [{"text": "Hi"}]
    assert body["generationConfig"] == {
        "temperature": 0.2,
        "maxOutputTokens": 64,
        "responseMimeType": "application/json",
    }


def test_success_joins_text_parts_and_reads_usage_metadata():
    result = gemini(replying(200, fixture("gemini_text.json"))).chat(
        hello(), key=GEMINI_KEY, timeouts=TIMEOUTS
    )
    assert result.content.startswith('There are **3** "r"s')
    assert result.usage.prompt_tokens == 9
    assert result.usage.completion_tokens == 29 + 282  # thinking tokens are output tokens
    assert result.usage.total_tokens == 320
    assert result.finish_reason == "stop"  # in OpenAI's words, as /v1 answers it
    assert result.model == "gemini-3-pro-preview"


def test_thought_parts_are_skipped():
    body = answer(
        [{"text": "thinking...", "thought": True}, {"text": "42", "thoughtSignature": "x"}]
    )
    result = gemini(replying(200, body)).chat(hello(), key=GEMINI_KEY, timeouts=TIMEOUTS)
    assert result.content == "42"


def test_per_minute_429_is_a_rate_limit_with_retry_info_delay():
    error = fail(429, fixture("gemini_429_per_minute.json"))
    assert isinstance(error, RateLimited)
    assert error.retry_after == pytest.approx(34.4)
    assert error.code == "RESOURCE_EXHAUSTED"


def test_per_day_429_is_quota_until_pacific_midnight_despite_short_retry_delay():
    error = fail(429, fixture("gemini_429_per_day.json"))
    assert isinstance(error, QuotaExceeded)
    assert error.retry_after == pytest.approx(until_pacific_midnight(NOW))
    assert error.retry_after > 3600  # NOW is 08:06 in Los Angeles


def test_429_wait_named_only_in_the_message_text_is_used():
    body = json.loads(fixture("gemini_429_per_minute_hint_in_text.json"))
    body["error"]["details"] = body["error"]["details"][:2]  # drop RetryInfo: only the text is left
    error = fail(429, json.dumps(body, indent=2))
    assert isinstance(error, RateLimited)
    assert error.retry_after == pytest.approx(58.217843437)


def test_429_with_a_free_tier_limit_of_zero_is_quota_without_the_short_wait():
    # "limit: 0": the key's tier has no quota for this model; "Please retry in 20s" cannot help.
    error = fail(429, fixture("gemini_429_message_hint.json"))
    assert isinstance(error, QuotaExceeded)
    assert error.retry_after is None  # the policy's long quota cooldown applies


def test_400_api_key_invalid_is_auth():
    error = fail(400, fixture("gemini_400_api_key_invalid.json"))
    assert isinstance(error, AuthFailed) and error.code == "API_KEY_INVALID"


def test_403_permission_denied_is_auth():
    assert isinstance(fail(403, fixture("gemini_403_leaked_key.json")), AuthFailed)


def test_unsupported_location_is_auth():
    assert isinstance(fail(400, fixture("gemini_400_location.json")), AuthFailed)


def test_input_token_count_over_the_limit_is_a_context_length_bad_request():
    error = fail(400, fixture("gemini_400_token_count.json"))
    assert isinstance(error, BadRequest) and error.too_large


def test_other_invalid_argument_is_a_bad_request_without_fallback():
    body = json.dumps(
        {
            "error": {
                "code": 400,
                "message": "Please use a valid role: user, model.",
                "status": "INVALID_ARGUMENT",
            }
        },
        indent=2,
    )
    error = fail(400, body)
    assert isinstance(error, BadRequest) and not error.falls_back


def test_503_overloaded_is_unavailable():
    assert isinstance(fail(503, fixture("gemini_503_overloaded.json")), Unavailable)


def test_deadline_exceeded_is_a_timeout():
    body = json.dumps(
        {
            "error": {
                "code": 504,
                "message": "Deadline expired before operation could complete.",
                "status": "DEADLINE_EXCEEDED",
            }
        },
        indent=2,
    )
    assert isinstance(fail(504, body), ProviderTimeout)


def test_html_error_page_is_unavailable():
    assert isinstance(fail(502, fixture("cloudflare_502.html")), Unavailable)


def test_blocked_prompt_is_content_filtered():
    error = fail(200, fixture("gemini_prompt_blocked.json"))
    assert isinstance(error, ContentFiltered) and error.code == "PROHIBITED_CONTENT"


@pytest.mark.parametrize(
    "reason", ["SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "RECITATION", "SPII"]
)
def test_blocked_answer_is_content_filtered(reason):
    body = json.dumps({"candidates": [{"finishReason": reason, "index": 0}]})
    assert isinstance(fail(200, body), ContentFiltered)


def test_no_candidates_is_invalid_response():
    assert isinstance(fail(200, '{"usageMetadata": {"promptTokenCount": 3}}'), InvalidResponse)


def test_candidate_without_text_is_invalid_response():
    body = json.dumps(
        {"candidates": [{"content": {"role": "model"}, "finishReason": "MAX_TOKENS"}]}
    )
    assert isinstance(fail(200, body), InvalidResponse)


def test_json_mode_answer_that_is_not_json_is_invalid_response():
    error = fail(200, answer([{"text": "Sure! Here it is"}]), request=hello(json_mode=True))
    assert isinstance(error, InvalidResponse)


def test_key_echoed_in_an_error_is_redacted():
    body = json.dumps(
        {
            "error": {
                "code": 400,
                "message": f"Invalid API key: {GEMINI_KEY.secret}",
                "status": "INVALID_ARGUMENT",
            }
        }
    )
    error = fail(400, body)
    assert GEMINI_KEY.secret not in error.message
