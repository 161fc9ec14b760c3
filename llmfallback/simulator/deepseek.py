"""DeepSeek's bytes: OpenAI-compatible chat, an envelope whose `code` is always
"invalid_request_error" (even on 401/402/429), no rate-limit headers.

Sources: captured bodies in Aider-AI/aider#4851 and frostime/sy-f-misc#10 (402 Insufficient
Balance), droidrun/mobilerun#28 and deepseek-ai/DeepSeek-R1#82 (401), BerriAI/litellm#10431 and
evalstate/fast-agent#621 (context length), zhukunpenglinyutong/jetbrains-cc-gui#591 (deserialize
400); status meanings from https://api-docs.deepseek.com/quick_start/error_codes.
"""

import uuid

from . import common, openai_shape
from .reply import compact

NAME = "deepseek"

key_of = openai_shape.bearer
REQUIRES_KEY = True


def parse(path_model, body, key):
    return openai_shape.parse(NAME, body, key)


def _err(status, message, type_):
    error = {"message": message, "type": type_, "param": None, "code": "invalid_request_error"}
    return compact(status, {"error": error})


def success(req, params, content=None, finish="stop", tool_calls=None):
    if content is None and not tool_calls:
        content = common.answer_text(NAME, req, params)
    prompt_tokens = common.token_count(req.prompt)
    usage = {
        "prompt_tokens_details": {"cached_tokens": 0},
        "prompt_cache_hit_tokens": 0,
        "prompt_cache_miss_tokens": prompt_tokens,
    }
    extra = {"system_fingerprint": "fp_sim0deepseek_prod0820"}
    obj = openai_shape.completion(req, content, finish, str(uuid.uuid4()), extra, usage, tool_calls)
    return openai_shape.deliver(req, obj)


def invalid_json(req=None):
    msg = "Failed to deserialize the JSON body into the target type: expected value at line 1 column 1"
    return _err(400, msg, "invalid_request_error")


def missing_key(req):
    msg = "Authentication Fails (auth header format should be Bearer sk-...)"
    return _err(401, msg, "authentication_error")


def invalid(req):
    if not req.body.get("messages"):
        msg = "Failed to deserialize the JSON body into the target type: missing field `messages` at line 1 column 2"
        return _err(400, msg, "invalid_request_error")
    i = openai_shape.bad_role_index(req.body)
    if i is not None:
        return _bad_role(i)
    if not req.model:
        msg = "Failed to deserialize the JSON body into the target type: missing field `model` at line 1 column 2"
        return _err(400, msg, "invalid_request_error")
    return None


def _bad_role(i):
    msg = (
        f"Failed to deserialize the JSON body into the target type: messages[{i}]: unknown "
        "variant `human`, expected one of `system`, `user`, `assistant`, `tool` at line 1 column 40"
    )
    return _err(400, msg, "invalid_request_error")


def rate_limit(req, params):
    """429 without any rate-limit header: DeepSeek never says how long to wait."""
    return _err(429, "Rate Limit Reached", "rate_limit_reached_error")


def quota(req, params):
    return _err(402, "Insufficient Balance", "unknown_error")


def auth(req, params):
    last4 = (req.key or "null")[-4:]
    return _err(
        401, f"Authentication Fails, Your api key: ****{last4} is invalid", "authentication_error"
    )


def unavailable(req, params):
    """Variants: json503 (default, "Server Overloaded"), json500, text503, cloudflare502."""
    variant = params.get("variant", "json503")
    if variant == "json500":
        return _err(500, "Server Error", "server_error")
    if variant == "json503":
        return _err(503, "Server Overloaded", "server_overloaded_error")
    return common.edge_page(variant) or _err(503, "Server Overloaded", "server_overloaded_error")


def context_length(req, params):
    msg = (
        "This model's maximum context length is 131072 tokens. However, you requested 131329 "
        "tokens (123137 in the messages, 8192 in the completion). Please reduce the length of "
        "the messages or completion."
    )
    return _err(400, msg, "invalid_request_error")


def bad_request(req, params):
    """Variants: invalid_role (default), max_tokens."""
    if params.get("variant") == "max_tokens":
        msg = "Invalid max_tokens value, the valid range of max_tokens is [1, 8192]"
        return _err(400, msg, "invalid_request_error")
    return _bad_role(0)


ERROR_OBJECT = {
    "error": {
        "message": "Server Error",
        "type": "server_error",
        "param": None,
        "code": "invalid_request_error",
    }
}
