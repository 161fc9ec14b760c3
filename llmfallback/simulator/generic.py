"""A local OpenAI-compatible server (vLLM, Ollama, llama.cpp) with vLLM-style error bodies.

vLLM puts the error at the top level: {"object":"error","message":…,"type":"BadRequestError",
"param":null,"code":400} (captured in vllm-project/vllm#4667); with --api-key a bad key gets
{"error":"Unauthorized"}.
"""

import uuid

from . import common, openai_shape
from .reply import compact

NAME = "openai"

key_of = openai_shape.bearer


def parse(path_model, body, key):
    return openai_shape.parse(path_model, body, key)  # path_model carries the server's name


def _err(status, message, type_):
    obj = {"object": "error", "message": message, "type": type_, "param": None, "code": status}
    return compact(status, obj)


def success(req, params, content=None, finish="stop", tool_calls=None):
    if content is None and not tool_calls:
        content = common.answer_text(req.provider, req, params)
    obj = openai_shape.completion(
        req, content, finish, f"chatcmpl-{uuid.uuid4().hex}", tool_calls=tool_calls
    )
    return openai_shape.deliver(req, obj)


def invalid_json(req=None):
    return _err(400, "JSON decode error", "BadRequestError")


REQUIRES_KEY = False  # local servers usually run without a key


def invalid(req):
    if not req.body.get("messages"):
        return _err(400, "[{'type': 'missing', 'loc': ('body', 'messages')}]", "BadRequestError")
    i = openai_shape.bad_role_index(req.body)
    if i is not None:
        return _err(400, f"Unknown role in messages[{i}]", "BadRequestError")
    return None


def rate_limit(req, params):
    return _err(429, "Too many requests, please try again later.", "RateLimitError")


def quota(req, params):
    return _err(429, "Quota exceeded for this deployment.", "RateLimitError")


def auth(req, params):
    return compact(401, {"error": "Unauthorized"})


def unavailable(req, params):
    """Variants: json503 (default), json500, text503, cloudflare502."""
    variant = params.get("variant", "json503")
    if variant == "json500":
        return _err(500, "EngineCore encountered an issue.", "InternalServerError")
    if variant == "json503":
        return _err(503, "The server is overloaded.", "ServiceUnavailableError")
    return common.edge_page(variant) or _err(
        503, "The server is overloaded.", "ServiceUnavailableError"
    )


def context_length(req, params):
    msg = (
        "This model's maximum context length is 8192 tokens. However, you requested 8203 tokens "
        "(7691 in the messages, 512 in the completion). Please reduce the length of the messages "
        "or completion."
    )
    return _err(400, msg, "BadRequestError")


def bad_request(req, params):
    return _err(400, "max_tokens must be at least 1, got -186.", "BadRequestError")


ERROR_OBJECT = {
    "object": "error",
    "message": "Internal error",
    "type": "InternalServerError",
    "param": None,
    "code": 500,
}
