import json

import httpx
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
from llmfallback.core.ports import ApiKey
from llmfallback.providers import OpenAICompatible
from tests.providers.helpers import GROQ_KEY, NOW, TIMEOUTS, client_for, fixture, hello, replying


def groq(handler, **kwargs) -> OpenAICompatible:
    return OpenAICompatible(
        name="groq",
        base_url="https://api.groq.com/openai/v1/",
        model="llama-3.3-70b-versatile",
        client=client_for(handler),
        keys=(GROQ_KEY,),
        max_tokens_field="max_completion_tokens",
        wallclock=lambda: NOW,
        **kwargs,
    )


def fail(status, body, headers=None, key=GROQ_KEY, request=None):
    provider = groq(replying(status, body, headers))
    with pytest.raises(Exception) as info:
        provider.chat(request or hello(), key=key, timeouts=TIMEOUTS)
    return info.value


def test_groq_success_parses_content_usage_and_finish_reason():
    provider = groq(replying(200, fixture("groq_text.json")))
    result = provider.chat(hello(), key=GROQ_KEY, timeouts=TIMEOUTS)
    assert result.content.startswith("I'd like to introduce")
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (45, 607)
    assert result.usage.total_tokens == 652
    assert result.finish_reason == "stop"
    assert result.model == "llama-3.3-70b-versatile"


def test_payload_shape_for_groq_uses_max_completion_tokens_and_bearer():
    seen = []
    answer = json.loads(fixture("groq_text.json"))
    answer["choices"][0]["message"]["content"] = '{"r": 3}'
    provider = groq(replying(200, json.dumps(answer), seen=seen))
    result = provider.chat(hello(json_mode=True), key=GROQ_KEY, timeouts=TIMEOUTS)
    assert result.content == '{"r": 3}'
    request = seen[0]
    body = json.loads(request.content)
    assert str(request.url) == "https://api.groq.com/openai/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {GROQ_KEY.secret}"
    assert body["model"] == "llama-3.3-70b-versatile"
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert body["max_completion_tokens"] == 64 and "max_tokens" not in body
    assert body["temperature"] == 0.2
    assert body["response_format"] == {"type": "json_object"}
    assert body["stream"] is False


def test_keyless_server_gets_no_authorization_header():
    seen = []
    provider = OpenAICompatible(
        name="ollama",
        base_url="http://localhost:11434/v1",
        model="llama3.2",
        client=client_for(replying(200, fixture("deepseek_text.json"), seen=seen)),
    )
    provider.chat(hello(), key=ApiKey("default"), timeouts=TIMEOUTS)
    assert "authorization" not in seen[0].headers
    assert json.loads(seen[0].content)["max_tokens"] == 64
    assert "response_format" not in json.loads(seen[0].content)


def test_deepseek_keep_alive_blank_lines_before_json_are_skipped():
    body = b"\n\n\n\n" + fixture("deepseek_text.json")
    result = groq(replying(200, body)).chat(hello(), key=GROQ_KEY, timeouts=TIMEOUTS)
    assert result.content == "Hello! How can I help you today?"


def test_groq_tpd_429_is_quota_with_the_named_wait():
    error = fail(429, fixture("groq_429_tpd.json"), {"retry-after": "578"})
    assert isinstance(error, QuotaExceeded)
    assert error.retry_after == 578.0  # the header wins over the text
    assert error.status == 429 and error.code == "rate_limit_exceeded"


def test_groq_tpd_429_without_header_uses_the_go_duration_in_the_message():
    error = fail(429, fixture("groq_429_tpd.json"))
    assert isinstance(error, QuotaExceeded)
    assert error.retry_after == pytest.approx(578.016)


def test_groq_tpm_429_is_a_rate_limit():
    error = fail(429, fixture("groq_429_tpm.json"))
    assert isinstance(error, RateLimited)
    assert error.retry_after == pytest.approx(1.984999999)


def test_retry_after_ms_beats_retry_after():
    headers = {"retry-after-ms": "1500", "retry-after": "30"}
    assert fail(429, fixture("groq_429_tpm.json"), headers).retry_after == 1.5


def test_retry_after_http_date_is_seconds_from_now():
    headers = {"retry-after": "Sun, 15 Jun 2025 15:08:20 GMT"}  # NOW + 100 s
    assert fail(429, fixture("groq_429_tpm.json"), headers).retry_after == pytest.approx(100)


def test_groq_413_request_too_large_is_a_refused_request_that_falls_back_without_cooldown():
    # Policy change: the request alone exceeds the tier's tokens per minute. Other callers'
    # smaller requests still fit, so the provider must not cool down; a later one may take it.
    error = fail(413, fixture("groq_413_request_too_large.json"))
    assert isinstance(error, BadRequest) and error.too_large and error.status == 413
    assert error.falls_back and not error.cools_down


def test_groq_401_is_auth():
    error = fail(401, fixture("groq_401_invalid_key.json"))
    assert isinstance(error, AuthFailed) and error.code == "invalid_api_key"


def test_groq_model_decommissioned_is_auth():
    error = fail(400, fixture("groq_400_model_decommissioned.json"))
    assert isinstance(error, AuthFailed) and error.code == "model_decommissioned"


def test_model_not_found_404_is_auth():
    body = '{"error":{"message":"The model `nope` does not exist or you do not have access to it.","type":"invalid_request_error","code":"model_not_found"}}\n'
    assert isinstance(fail(404, body), AuthFailed)


def test_groq_json_validate_failed_is_invalid_response():
    assert isinstance(fail(400, fixture("groq_400_json_validate_failed.json")), InvalidResponse)


def test_groq_context_length_exceeded_is_a_bad_request_that_falls_back():
    error = fail(400, fixture("groq_400_context_length.json"))
    assert isinstance(error, BadRequest) and error.too_large and error.falls_back


def test_deepseek_context_length_text_is_recognised_despite_generic_code():
    error = fail(400, fixture("deepseek_400_context_length.json"))
    assert isinstance(error, BadRequest) and error.too_large


def test_deepseek_402_insufficient_balance_is_quota():
    error = fail(402, fixture("deepseek_402_insufficient_balance.json"))
    assert isinstance(error, QuotaExceeded) and error.status == 402


def test_deepseek_429_is_classified_by_status_not_code():
    body = '{"error":{"message":"Rate Limit Reached","type":"rate_limit_error","param":null,"code":"invalid_request_error"}}\n'
    assert isinstance(fail(429, body), RateLimited)


def test_malformed_request_422_is_a_bad_request_that_does_not_fall_back():
    body = '{"error":{"message":"Invalid Parameters","type":"invalid_request_error","param":null,"code":"invalid_request_error"}}\n'
    error = fail(422, body)
    assert isinstance(error, BadRequest) and not error.falls_back


def test_vllm_top_level_object_error_is_a_bad_request():
    error = fail(400, fixture("vllm_400_object_error.json"))
    assert isinstance(error, BadRequest) and error.code == "BadRequestError"


def test_gemini_openai_endpoint_array_wrapped_bad_key_is_auth():
    error = fail(400, fixture("gemini_openai_compat_400_array.json"))
    assert isinstance(error, AuthFailed)
    assert "API key not valid" in error.message


@pytest.mark.parametrize("status", [500, 502, 503, 498])
def test_server_errors_are_unavailable(status):
    body = '{"error":{"message":"Service Unavailable","type":"internal_server_error"}}\n'
    assert isinstance(fail(status, body), Unavailable)


def test_cloudflare_502_html_is_unavailable_with_its_title():
    error = fail(502, fixture("cloudflare_502.html"), {"content-type": "text/html"})
    assert isinstance(error, Unavailable)
    assert error.message == "HTTP 502: api.groq.com | 502: Bad gateway"


@pytest.mark.parametrize("name", ["edge_503_plain.txt", "edge_503_envoy.txt"])
def test_plain_text_503_from_the_edge_is_unavailable(name):
    error = fail(503, fixture(name), {"retry-after": "7"})
    assert isinstance(error, Unavailable) and error.retry_after == 7


@pytest.mark.parametrize("status", [408, 504])
def test_gateway_timeouts_are_timeouts(status):
    assert isinstance(fail(status, "upstream request timeout"), ProviderTimeout)


def test_error_object_inside_a_200_body_is_unavailable():
    body = '{"error":{"message":"upstream provider error","code":502}}'
    assert isinstance(fail(200, body), Unavailable)


def test_200_with_malformed_json_is_invalid_response():
    assert isinstance(fail(200, '{"id": "chatcmpl-1", "choices": ['), InvalidResponse)


def test_200_without_choices_is_invalid_response():
    body = '{"id":"chatcmpl-1","object":"chat.completion","choices":[]}'
    assert isinstance(fail(200, body), InvalidResponse)


def test_deepseek_blank_json_mode_answer_is_invalid_response():
    error = fail(200, fixture("deepseek_json_mode_blank.json"), request=hello(json_mode=True))
    assert isinstance(error, InvalidResponse)


def test_json_mode_answer_that_is_not_json_is_invalid_response():
    body = json.loads(fixture("deepseek_text.json"))
    error = fail(200, json.dumps(body), request=hello(json_mode=True))
    assert isinstance(error, InvalidResponse)


def test_content_filter_finish_reason_is_content_filtered():
    body = json.loads(fixture("deepseek_text.json"))
    body["choices"][0].update(finish_reason="content_filter", message={"content": ""})
    assert isinstance(fail(200, json.dumps(body)), ContentFiltered)


def test_echoed_secret_is_redacted_from_the_message():
    secret = GROQ_KEY.secret
    body = json.dumps({"error": {"message": f"Incorrect API key provided: {secret}"}})
    error = fail(401, body)
    assert secret not in error.message and secret not in str(error)
    assert isinstance(error, AuthFailed)


def test_read_timeout_is_provider_timeout():
    def handler(request):
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(ProviderTimeout):
        groq(handler).chat(hello(), key=GROQ_KEY, timeouts=TIMEOUTS)


@pytest.mark.parametrize("exc", [httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError])
def test_connection_failures_are_unavailable(exc):
    def handler(request):
        raise exc("connection reset by peer", request=request)

    with pytest.raises(Unavailable):
        groq(handler).chat(hello(), key=GROQ_KEY, timeouts=TIMEOUTS)


def test_deepseek_plain_text_422_is_the_requests_own_fault():
    # DeepSeek's answer to a body it cannot deserialize: text/plain, no JSON envelope.
    body = "Failed to deserialize the JSON body into the target type: messages[0].role: unknown variant `robot`, expected one of `system`, `user`, `assistant`, `tool` at line 1 column 40"
    error = fail(422, body, headers={"content-type": "text/plain; charset=utf-8"})
    assert isinstance(error, BadRequest) and not error.falls_back and not error.cools_down


def test_a_prefill_is_a_trailing_assistant_message():
    seen = {}

    def handler(request):
        seen.update(json.loads(request.content))
        return httpx.Response(200, json={"choices": [{"message": {"content": " more"}}]})

    groq(handler).chat(hello(prefill="The start"), key=GROQ_KEY, timeouts=TIMEOUTS)
    assert seen["messages"][-1] == {"role": "assistant", "content": "The start"}


def test_deepseek_streams_a_prefill_to_its_beta_prefix_completion():
    seen = {}

    def handler(request):
        seen["url"], seen["body"] = str(request.url), json.loads(request.content)
        return httpx.Response(
            200,
            headers={"content-type": "text/event-stream"},
            content=b'data: {"choices":[{"delta":{"content":" more"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n',
        )

    deepseek = OpenAICompatible(
        name="deepseek",
        base_url="https://api.deepseek.com/v1",
        model="deepseek-chat",
        client=client_for(handler),
        prefix_beta=True,
    )
    events = list(
        deepseek.stream(hello(prefill="The start"), key=GROQ_KEY, timeouts=TIMEOUTS, stall_s=5)
    )
    assert seen["url"] == "https://api.deepseek.com/beta/chat/completions"
    assert seen["body"]["messages"][-1] == {
        "role": "assistant",
        "content": "The start",
        "prefix": True,
    }
    assert events[0].content == " more"
