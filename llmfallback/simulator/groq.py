"""Groq's bytes: OpenAI-compatible chat at /openai/v1, compact JSON errors, Go-duration headers.

Sources: success shape from vercel/ai packages/groq/src/__fixtures__/groq-text.json (usage
times, x_groq.id, service_tier, system_fingerprint); error texts from captured 429/413/401/400
bodies in issue threads (danielmiessler/Fabric#364, continuedev/continue#10920,
HunorLaczko/ha-groq-cloud-api#27, ag5826000/resume-commentor#4, letta-ai/letta#1963,
nhaouari/obsidian-textgenerator-plugin#309); headers from https://console.groq.com/docs/rate-limits.
"""

import email.utils
import time
import uuid

from . import common, openai_shape
from .reply import compact

NAME = "groq"
ORG = "org_01hsim0000000000000000000"
RATE_DOC = "Visit https://console.groq.com/docs/rate-limits for more information."
UPGRADE = "Need more tokens? Upgrade to Dev Tier today at https://console.groq.com/settings/billing"

key_of = openai_shape.bearer
REQUIRES_KEY = True


def parse(path_model, body, key):
    return openai_shape.parse(NAME, body, key)


def _err(status, message, type_, code=None, headers=(), **extra):
    error = {"message": message, "type": type_} | ({"code": code} if code else {}) | extra
    return compact(status, {"error": error}, headers)


def ratelimit_headers(remaining_requests=14399, reset_requests="6s"):
    """x-ratelimit-*: requests are per day (RPD), tokens per minute (TPM); resets are Go durations."""
    return [
        ("x-ratelimit-limit-requests", "14400"),
        ("x-ratelimit-limit-tokens", "6000"),
        ("x-ratelimit-remaining-requests", str(remaining_requests)),
        ("x-ratelimit-remaining-tokens", "5990"),
        ("x-ratelimit-reset-requests", reset_requests),
        ("x-ratelimit-reset-tokens", "100ms"),
        ("x-request-id", "req_" + common.rand_id(26)),
    ]


def success(req, params, content=None, finish="stop", tool_calls=None):
    if content is None and not tool_calls:
        content = common.answer_text(NAME, req, params)
    extra = {
        "usage_breakdown": None,
        "system_fingerprint": "fp_sim0groq1",
        "x_groq": {"id": "req_" + common.rand_id(26)},
        "service_tier": "on_demand",
    }
    times = {
        "queue_time": 0.041,
        "prompt_time": 0.002,
        "completion_time": 0.01,
        "total_time": 0.012,
    }
    obj = openai_shape.completion(
        req, content, finish, f"chatcmpl-{uuid.uuid4()}", extra, times, tool_calls
    )
    return openai_shape.deliver(req, obj, ratelimit_headers())


def invalid_json(req=None):
    return _err(400, "We could not parse the JSON body of your request.", "invalid_request_error")


def missing_key(req):
    return auth(req, {})


def invalid(req):
    if not req.model:
        return _err(400, "'model' : property 'model' is missing", "invalid_request_error")
    if not req.body.get("messages"):
        return _err(400, "'messages' : minimum number of items is 1", "invalid_request_error")
    i = openai_shape.bad_role_index(req.body)
    if i is not None:
        msg = f"'messages.{i}' : discriminator property 'role' has invalid value"
        return _err(400, msg, "invalid_request_error")
    return None


def _retry_headers(params, seconds):
    if params.get("no_header"):
        return []
    headers = [("retry-after", str(params.get("retry_after", seconds)))]
    if "retry_after_date" in params:
        when = params["retry_after_date"]
        if not isinstance(when, str):
            when = email.utils.formatdate(time.time() + float(seconds), usegmt=True)
        headers = [("retry-after", when)]
    if "retry_after_ms" in params:
        headers.append(("retry-after-ms", str(params["retry_after_ms"])))
    return headers


def rate_limit(req, params):
    """429 per-minute limit; params retry_after, retry_after_ms, retry_after_date, no_header, limit."""
    seconds = params.get("retry_after", 2)
    if params.get("limit", "rpm") == "tpm":
        usage, type_ = "tokens per minute (TPM): Limit 6000, Used 5034, Requested 1443", "tokens"
    else:
        usage, type_ = "requests per minute (RPM): Limit 30, Used 30, Requested 1", "requests"
    message = (
        f"Rate limit reached for model `{req.model}` in organization `{ORG}` service tier "
        f"`on_demand` on {usage}. Please try again in {seconds}s. {RATE_DOC}"
    )
    headers = ratelimit_headers() + _retry_headers(params, seconds)
    return _err(429, message, type_, "rate_limit_exceeded", headers)


def quota(req, params):
    """429 tokens-per-day (variant tpd, default) or 413 request larger than the tier (variant 413)."""
    if str(params.get("variant", "tpd")) == "413":
        message = (
            f"Request too large for model `{req.model}` in organization `{ORG}` service tier "
            "`on_demand` on tokens per minute (TPM): Limit 6000, Requested 12328, please reduce "
            f"your message size and try again. {UPGRADE}"
        )
        return _err(413, message, "tokens", "rate_limit_exceeded", ratelimit_headers())
    wait = params.get("wait", "9m38.016s")
    message = (
        f"Rate limit reached for model `{req.model}` in organization `{ORG}` service tier "
        "`on_demand` on tokens per day (TPD): Limit 100000, Used 97050, Requested 3619. "
        f"Please try again in {wait}. {UPGRADE}"
    )
    headers = ratelimit_headers() + _retry_headers(params, params.get("retry_after", 579))
    return _err(429, message, "tokens", "rate_limit_exceeded", headers)


def auth(req, params):
    return _err(401, "Invalid API Key", "invalid_request_error", "invalid_api_key")


def unavailable(req, params):
    """Variants: text503 (default), cloudflare502, flex498, json500, json503."""
    variant = params.get("variant", "text503")
    if variant == "flex498":
        # 498 "Flex Tier Capacity Exceeded" per https://console.groq.com/docs/errors.
        msg = "Flex tier capacity exceeded. This model is currently at capacity, please try again later."
        return _err(498, msg, "internal_server_error", "capacity_exceeded")
    if variant == "json500":
        return _err(500, "Internal Server Error", "internal_server_error")
    if variant == "json503":
        msg = "Service Unavailable"
        return _err(503, msg, "internal_server_error", "service_unavailable")
    return common.edge_page(variant) or common.edge_page("text503")


def context_length(req, params):
    msg = "Please reduce the length of the messages or completion."
    return _err(400, msg, "invalid_request_error", "context_length_exceeded", param="messages")


def bad_request(req, params):
    """Variants: invalid_role (default), json_validate_failed, model_decommissioned."""
    variant = params.get("variant", "invalid_role")
    if variant == "json_validate_failed":
        msg = "Failed to generate JSON. Please adjust your prompt. See 'failed_generation' for more details."
        return _err(
            400, msg, "invalid_request_error", "json_validate_failed", failed_generation="{"
        )
    if variant == "model_decommissioned":
        msg = (
            f"The model `{req.model}` has been decommissioned and is no longer supported. Please "
            "refer to https://console.groq.com/docs/deprecations for a recommendation on which "
            "model to use instead."
        )
        return _err(400, msg, "invalid_request_error", "model_decommissioned")
    msg = "'messages.0' : discriminator property 'role' has invalid value"
    return _err(400, msg, "invalid_request_error")


ERROR_OBJECT = {"error": {"message": "Internal Server Error", "type": "internal_server_error"}}
