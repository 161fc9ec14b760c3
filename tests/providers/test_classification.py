"""The failure policy of PROVIDERS.md, case by case, from the providers' real bodies."""

import json

import pytest

from llmfallback.core.errors import (
    AuthFailed,
    BadRequest,
    ContentFiltered,
    InvalidResponse,
    QuotaExceeded,
    RateLimited,
)
from llmfallback.providers import Gemini, OpenAICompatible
from tests.providers.helpers import (
    GEMINI_KEY,
    GROQ_KEY,
    NOW,
    TIMEOUTS,
    client_for,
    fixture,
    hello,
    replying,
)


def openai_like(status, body, headers=None, request=None):
    provider = OpenAICompatible(
        name="groq",
        base_url="https://api.groq.com/openai/v1",
        model="llama-3.3-70b-versatile",
        client=client_for(replying(status, body, headers)),
        keys=(GROQ_KEY,),
        wallclock=lambda: NOW,
    )
    return _outcome(provider, GROQ_KEY, request)


def gemini(status, body, headers=None, request=None):
    provider = Gemini(
        name="gemini",
        base_url="https://generativelanguage.googleapis.com/v1beta",
        model="gemini-2.5-flash",
        client=client_for(replying(status, body, headers)),
        keys=(GEMINI_KEY,),
        wallclock=lambda: NOW,
    )
    return _outcome(provider, GEMINI_KEY, request)


def _outcome(provider, key, request):
    try:
        return provider.chat(request or hello(), key=key, timeouts=TIMEOUTS)
    except Exception as e:  # noqa: BLE001 - the test inspects whatever came out
        return e


def assert_long_quota(error):
    """Quota with no short wait of its own: the policy's hours-long cooldown applies."""
    assert isinstance(error, QuotaExceeded), repr(error)
    assert error.retry_after is None and error.cools_down and error.falls_back


def assert_request_only(error):
    """This request's answer was unusable: try the next provider, cool nobody down."""
    assert isinstance(error, InvalidResponse), repr(error)
    assert error.request_only and error.falls_back and not error.cools_down


# -- billing blocks and spend caps are quota, whatever status they come with ---------------


@pytest.mark.parametrize(
    "status, name",
    [
        (402, "deepseek_402_insufficient_balance.json"),
        (402, "openrouter_402_credits.json"),
        (429, "openai_429_insufficient_quota.json"),
        (429, "openai_429_billing_not_active.json"),
    ],
)
def test_billing_blocks_are_quota_with_a_long_cooldown(status, name):
    assert_long_quota(openai_like(status, fixture(name)))


def test_a_retry_after_on_a_spent_balance_is_not_believed():
    error = openai_like(429, fixture("openai_429_insufficient_quota.json"), {"retry-after": "20"})
    assert_long_quota(error)


@pytest.mark.parametrize("status", [400, 403, 429])
def test_xai_spending_limit_is_quota_on_any_status(status):
    # Message as captured in continuedev/continue#10740 (429) and gptme/gptme-contrib#1678 (403).
    message = (
        "Your team c03b3526-bed4-49ed-8bd7-f20ef8830383 has either used all available credits "
        "or reached its monthly spending limit. To continue making API requests, please "
        "purchase more credits or raise your spending limit."
    )
    body = json.dumps({"code": "Some resource has been exhausted", "error": message})
    assert_long_quota(openai_like(status, body))


def test_openai_billing_hard_limit_on_a_400_is_quota_not_a_bad_request():
    body = {"error": {"message": "Billing hard limit has been reached", "type": None}}
    body["error"].update(param=None, code="billing_hard_limit_reached")
    assert_long_quota(openai_like(400, json.dumps(body, indent=4)))


@pytest.mark.parametrize(
    "name", ["gemini_400_enable_billing.json", "gemini_400_location_no_billing_account.json"]
)
def test_gemini_failed_precondition_about_billing_is_quota(name):
    assert_long_quota(gemini(400, fixture(name)))


def test_gemini_location_without_a_billing_word_stays_auth():
    assert isinstance(gemini(400, fixture("gemini_400_location.json")), AuthFailed)


def test_gemini_billing_disabled_reason_on_a_403_is_quota():
    body = {
        "error": {
            "code": 403,
            "message": "This API method requires billing to be enabled.",
            "status": "PERMISSION_DENIED",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "BILLING_DISABLED"}
            ],
        }
    }
    assert_long_quota(gemini(403, json.dumps(body, indent=2)))


def test_groq_rate_limit_linking_its_billing_page_is_still_a_rate_limit():
    # Every Groq 429 says "Upgrade to Dev Tier today at .../settings/billing".
    error = openai_like(429, fixture("groq_429_tpm.json"))
    assert isinstance(error, RateLimited)


def test_gemini_per_minute_429_saying_billing_details_is_still_a_rate_limit():
    error = gemini(429, fixture("gemini_429_per_minute_hint_in_text.json"))
    assert isinstance(error, RateLimited) and error.retry_after == 58


def test_groq_restricted_organization_is_auth_not_the_callers_bad_request():
    error = openai_like(400, fixture("groq_400_organization_restricted.json"))
    assert isinstance(error, AuthFailed) and error.falls_back


# -- a quota the tier can never meet is quota, not a short rate limit ----------------------


def test_gemini_quota_value_zero_is_quota_despite_retry_info():
    body = json.loads(fixture("gemini_429_per_minute_hint_in_text.json"))
    body["error"]["details"][1]["violations"][0]["quotaValue"] = "0"
    body["error"]["message"] = "Quota exceeded"
    assert_long_quota(gemini(429, json.dumps(body, indent=2)))


def test_groq_limit_zero_is_quota_even_on_a_413():
    body = json.loads(fixture("groq_413_request_too_large.json"))
    body["error"]["message"] = body["error"]["message"].replace("Limit 6000", "Limit 0")
    assert_long_quota(openai_like(413, json.dumps(body)))


def test_openai_limit_zero_429_is_quota():
    message = "Request too large for gpt-5 in organization org-x on requests per min (RPM): Limit 0, Requested 1."
    body = json.dumps(
        {"error": {"message": message, "type": "requests", "code": "rate_limit_exceeded"}}
    )
    assert_long_quota(openai_like(429, body))


# -- a request refused for its own sake never cools the provider ---------------------------


@pytest.mark.parametrize(
    "name", ["groq_413_request_too_large.json", "groq_413_request_too_large_billing_link.json"]
)
def test_groq_413_is_too_large_not_quota(name):
    error = openai_like(413, fixture(name))
    assert isinstance(error, BadRequest) and error.too_large
    assert error.falls_back and not error.cools_down


@pytest.mark.parametrize("body", ["<html><title>413 Request Entity Too Large</title></html>", ""])
def test_any_413_is_too_large(body):
    for outcome in (openai_like(413, body), gemini(413, body)):
        assert isinstance(outcome, BadRequest) and outcome.too_large, repr(outcome)


@pytest.mark.parametrize(
    "status, name",
    [
        (400, "groq_400_context_length.json"),
        (400, "deepseek_400_context_length.json"),
    ],
)
def test_context_window_overflow_is_too_large(status, name):
    error = openai_like(status, fixture(name))
    assert isinstance(error, BadRequest) and error.too_large and not error.cools_down


def test_gemini_input_token_count_over_the_maximum_is_too_large():
    error = gemini(400, fixture("gemini_400_token_count.json"))
    assert isinstance(error, BadRequest) and error.too_large


def test_other_malformed_requests_do_not_fall_back():
    error = gemini(400, fixture("gemini_400_api_key_invalid.json").replace(b"API_KEY", b"OTHER"))
    assert isinstance(error, BadRequest) and not error.falls_back
    body = '{"error":{"message":"Invalid Parameters","type":"invalid_request_error","code":null}}'
    error = openai_like(422, body)
    assert isinstance(error, BadRequest) and not error.falls_back


# -- unusable answers: this request only, or the provider's fault ---------------------------


def test_groq_json_validate_failed_is_request_only():
    assert_request_only(openai_like(400, fixture("groq_400_json_validate_failed.json")))


def test_json_mode_text_that_is_not_json_is_request_only():
    assert_request_only(
        openai_like(200, fixture("deepseek_text.json"), request=hello(json_mode=True))
    )


def test_deepseek_whitespace_in_json_mode_is_request_only():
    body = fixture("deepseek_json_mode_blank.json")
    assert_request_only(openai_like(200, body, request=hello(json_mode=True)))


def test_json_mode_answer_nested_too_deeply_to_check_is_request_only():
    body = json.loads(fixture("deepseek_text.json"))
    body["choices"][0]["message"]["content"] = "[" * 100_000 + "]" * 100_000
    assert_request_only(openai_like(200, json.dumps(body), request=hello(json_mode=True)))


def test_openai_max_tokens_spent_before_any_text_is_request_only():
    body = json.loads(fixture("deepseek_text.json"))
    body["choices"][0].update(finish_reason="length", message={"role": "assistant", "content": ""})
    assert_request_only(openai_like(200, json.dumps(body)))


def test_gemini_max_tokens_spent_thinking_is_request_only():
    assert_request_only(gemini(200, fixture("gemini_max_tokens_no_text.json")))


def test_empty_answer_that_says_stop_cools_the_provider_down():
    body = json.loads(fixture("deepseek_text.json"))
    body["choices"][0]["message"]["content"] = ""
    error = openai_like(200, json.dumps(body))
    assert isinstance(error, InvalidResponse) and not error.request_only and error.cools_down


@pytest.mark.parametrize("json_mode", [False, True])
def test_no_choices_is_the_providers_fault(json_mode):
    error = openai_like(200, fixture("groq_empty_choices.json"), request=hello(json_mode=json_mode))
    assert isinstance(error, InvalidResponse) and not error.request_only


def test_gemini_candidate_without_parts_in_json_mode_is_the_providers_fault():
    body = json.dumps({"candidates": [{"content": {"role": "model"}, "finishReason": "STOP"}]})
    error = gemini(200, body, request=hello(json_mode=True))
    assert isinstance(error, InvalidResponse) and not error.request_only


def test_openai_refusal_is_content_filtered_not_the_providers_fault():
    body = json.loads(fixture("deepseek_text.json"))
    body["choices"][0]["message"] = {
        "role": "assistant",
        "content": None,
        "refusal": "I'm sorry, I cannot assist with that request.",
    }
    error = openai_like(200, json.dumps(body))
    assert isinstance(error, ContentFiltered) and error.falls_back and not error.cools_down


def test_azure_content_filter_400_is_content_filtered():
    body = {"error": {"message": "The response was filtered", "type": None, "param": "prompt"}}
    body["error"].update(code="content_filter", status=400)
    assert isinstance(openai_like(400, json.dumps(body)), ContentFiltered)


# -- real but odd bodies are read, not rejected ----------------------------------------------


def test_content_given_as_a_list_of_text_parts_is_joined():
    body = json.loads(fixture("deepseek_text.json"))
    body["choices"][0]["message"]["content"] = [
        {"type": "thinking", "thinking": [{"type": "text", "text": "hmm"}]},
        {"type": "text", "text": "Hello"},
        {"type": "text", "text": " there"},
    ]
    assert openai_like(200, json.dumps(body)).content == "Hello there"


@pytest.mark.parametrize(
    "usage, expected",
    [
        ({"prompt_tokens": "11", "completion_tokens": 9.0, "total_tokens": None}, (11, 9, 0)),
        (
            {"prompt_tokens": -5, "completion_tokens": True, "total_tokens": 1e300},
            (0, 0, 2**31 - 1),
        ),
        ({"prompt_tokens": "NaN", "completion_tokens": [], "total_tokens": {"n": 1}}, (0, 0, 0)),
        ("lots", (0, 0, 0)),
    ],
)
def test_usage_numbers_are_coerced_safely(usage, expected):
    body = json.loads(fixture("deepseek_text.json"))
    body["usage"] = usage
    result = openai_like(200, json.dumps(body))
    u = result.usage
    assert (u.prompt_tokens, u.completion_tokens, u.total_tokens) == expected


def test_model_that_is_not_a_string_falls_back_to_the_configured_one():
    body = json.loads(fixture("deepseek_text.json"))
    body["model"] = {"name": "deepseek-chat"}
    assert openai_like(200, json.dumps(body)).model == "llama-3.3-70b-versatile"


def test_gemini_usage_as_strings_is_read():
    body = json.loads(fixture("gemini_text.json"))
    body["usageMetadata"] = {"promptTokenCount": "9", "candidatesTokenCount": "29"}
    result = gemini(200, json.dumps(body))
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (9, 29)
    assert result.usage.total_tokens == 38
