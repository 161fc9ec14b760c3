"""Each scripted behaviour emits that provider's real status, headers and body shape."""

import json

import pytest

PROVIDERS = ("groq", "gemini", "deepseek", "vllm")


def scripted(ctl, call, provider, behavior, **params):
    ctl.script(provider, [{"behavior": behavior, **params}])
    return call(provider)


def error_of(r):
    body = r.json()
    return body.get("error", body)


@pytest.mark.parametrize(
    "provider,behavior,params,status",
    [
        ("groq", "rate_limit", {}, 429),
        ("groq", "quota", {}, 429),
        ("groq", "quota", {"variant": "413"}, 413),
        ("groq", "auth", {}, 401),
        ("groq", "unavailable", {"variant": "flex498"}, 498),
        ("groq", "unavailable", {"variant": "json500"}, 500),
        ("groq", "context_length", {}, 400),
        ("groq", "bad_request", {"variant": "model_decommissioned"}, 400),
        ("gemini", "rate_limit", {}, 429),
        ("gemini", "quota", {}, 429),
        ("gemini", "auth", {}, 400),
        ("gemini", "auth", {"variant": "permission_denied"}, 403),
        ("gemini", "unavailable", {}, 503),
        ("gemini", "unavailable", {"variant": "json500"}, 500),
        ("gemini", "context_length", {}, 400),
        ("gemini", "bad_request", {}, 400),
        ("deepseek", "rate_limit", {}, 429),
        ("deepseek", "quota", {}, 402),
        ("deepseek", "auth", {}, 401),
        ("deepseek", "unavailable", {}, 503),
        ("deepseek", "context_length", {}, 400),
        ("deepseek", "bad_request", {"variant": "max_tokens"}, 400),
        ("vllm", "rate_limit", {}, 429),
        ("vllm", "auth", {}, 401),
        ("vllm", "unavailable", {}, 503),
        ("vllm", "context_length", {}, 400),
        ("vllm", "bad_request", {}, 400),
    ],
)
def test_error_behaviour_status(ctl, call, provider, behavior, params, status):
    r = scripted(ctl, call, provider, behavior, **params)
    assert r.status_code == status
    if provider == "gemini":
        assert r.headers["content-type"] == "application/json; charset=UTF-8"
        assert r.text.startswith('{\n  "error": {\n    "code": ') and r.text.endswith("}\n")
        assert error_of(r)["code"] == status
    elif provider in ("groq", "deepseek"):
        assert r.headers["content-type"] == "application/json"
        assert r.text.startswith('{"error":{"message":') and r.text.endswith("}\n")


def test_groq_rate_limit_message_and_headers(ctl, call):
    r = scripted(ctl, call, "groq", "rate_limit")
    error = error_of(r)
    assert error["code"] == "rate_limit_exceeded" and error["type"] == "requests"
    assert error["message"].startswith("Rate limit reached for model `m-1` in organization `org_")
    assert (
        "service tier `on_demand` on requests per minute (RPM): Limit 30, Used 30"
        in error["message"]
    )
    assert "Please try again in 2s." in error["message"]
    assert r.headers["retry-after"] == "2"
    assert r.headers["x-ratelimit-limit-requests"] == "14400"


def test_groq_retry_after_variants(ctl, call):
    r = scripted(ctl, call, "groq", "rate_limit", retry_after=7, retry_after_ms=6500)
    assert r.headers["retry-after"] == "7" and r.headers["retry-after-ms"] == "6500"
    r = scripted(ctl, call, "groq", "rate_limit", retry_after=5, retry_after_date=True)
    assert r.headers["retry-after"].endswith(" GMT")
    r = scripted(ctl, call, "groq", "rate_limit", no_header=True)
    assert "retry-after" not in r.headers


def test_groq_daily_quota_names_tpd_and_a_long_wait(ctl, call):
    message = error_of(scripted(ctl, call, "groq", "quota"))["message"]
    assert "tokens per day (TPD)" in message and "Please try again in 9m38.016s." in message


def test_gemini_rate_limit_has_retry_info_and_no_header(ctl, call):
    r = scripted(ctl, call, "gemini", "rate_limit", retry_delay="12s")
    error = error_of(r)
    assert error["status"] == "RESOURCE_EXHAUSTED"
    assert "retry-after" not in r.headers
    types = {d["@type"].rsplit(".", 1)[1]: d for d in error["details"]}
    assert types["RetryInfo"]["retryDelay"] == "12s"
    quota_id = types["QuotaFailure"]["violations"][0]["quotaId"]
    assert quota_id == "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"


def test_gemini_daily_quota_still_has_a_short_retry_delay(ctl, call):
    error = error_of(scripted(ctl, call, "gemini", "quota"))
    quota_id = error["details"][0]["violations"][0]["quotaId"]
    assert "PerDay" in quota_id and error["details"][-1]["retryDelay"] == "36s"


def test_gemini_bad_key_is_400_api_key_invalid(ctl, call):
    error = error_of(scripted(ctl, call, "gemini", "auth"))
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["details"][0]["reason"] == "API_KEY_INVALID"


def test_deepseek_envelope_says_invalid_request_error_everywhere(ctl, call):
    for behavior in ("rate_limit", "quota", "auth"):
        r = scripted(ctl, call, "deepseek", behavior)
        assert error_of(r)["code"] == "invalid_request_error" and error_of(r)["param"] is None
        assert not [h for h in r.headers if h.startswith(("retry-after", "x-ratelimit"))]
    assert error_of(scripted(ctl, call, "deepseek", "quota"))["message"] == "Insufficient Balance"


@pytest.mark.parametrize("provider", ["groq", "gemini", "deepseek"])
def test_edge_pages_are_not_json(ctl, call, provider):
    r = scripted(ctl, call, provider, "unavailable", variant="cloudflare502")
    assert r.status_code == 502 and r.headers["content-type"] == "text/html"
    assert "<center>cloudflare</center>" in r.text
    r = scripted(ctl, call, provider, "unavailable", variant="text503")
    assert r.status_code == 503 and r.headers["content-type"] == "text/plain"


def test_gemini_overloaded_message(ctl, call):
    error = error_of(scripted(ctl, call, "gemini", "unavailable"))
    assert error == {
        "code": 503,
        "message": "The model is overloaded. Please try again later.",
        "status": "UNAVAILABLE",
    }


@pytest.mark.parametrize("provider", PROVIDERS)
def test_malformed_is_a_200_with_broken_json(ctl, call, provider):
    r = scripted(ctl, call, provider, "malformed")
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.content)


@pytest.mark.parametrize("provider", ["groq", "deepseek", "vllm"])
def test_openai_empty_blocked_and_blank_json(ctl, call, provider):
    assert scripted(ctl, call, provider, "empty").json()["choices"] == []
    empty = scripted(ctl, call, provider, "empty", variant="empty_content").json()
    assert empty["choices"][0]["message"]["content"] == ""
    blocked = scripted(ctl, call, provider, "blocked").json()["choices"][0]
    assert blocked["finish_reason"] == "content_filter"
    blank = scripted(ctl, call, provider, "json_invalid").json()["choices"][0]
    assert blank["message"]["content"].strip() == "" and blank["finish_reason"] == "stop"


def test_gemini_empty_and_blocked(ctl, call):
    assert "candidates" not in scripted(ctl, call, "gemini", "empty").json()
    empty = scripted(ctl, call, "gemini", "empty", variant="empty_content").json()
    assert empty["candidates"][0]["content"]["parts"][0]["text"] == ""
    prompt = scripted(ctl, call, "gemini", "blocked").json()
    assert prompt["promptFeedback"] == {"blockReason": "SAFETY"} and "candidates" not in prompt
    answer = scripted(ctl, call, "gemini", "blocked", variant="candidate").json()["candidates"][0]
    assert answer["finishReason"] == "SAFETY" and "parts" not in answer["content"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_error_in_200(ctl, call, provider):
    r = scripted(ctl, call, provider, "error_in_200")
    assert r.status_code == 200
    body = r.json()
    assert "error" in body or body.get("object") == "error"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_error_in_stream_ends_with_an_error_event(ctl, call, provider):
    r = scripted(ctl, call, provider, "error_in_stream")
    assert r.status_code == 200 and r.headers["content-type"] == "text/event-stream"
    last = json.loads(r.text.strip().split("data: ")[-1])
    assert "error" in last or last.get("object") == "error"


def test_ok_with_content_and_delay(ctl, call):
    r = scripted(ctl, call, "groq", "ok", content="fixed", delay_s=0.05)
    assert r.json()["choices"][0]["message"]["content"] == "fixed"
    assert r.elapsed.total_seconds() >= 0.05
