"""Gemini's native bytes: generateContent, pretty-printed google.rpc errors, no Retry-After.

Sources: success and prompt-block shapes from vercel/ai packages/google/src/__fixtures__/
(google-text.json, issue-19758-prompt-block.json, google-429-retry-info.json); 429 details from
google-gemini/gemini-cli#8437 and RooCodeInc/Roo-Code#3883 (QuotaFailure, Help, RetryInfo);
API_KEY_INVALID from continuedev/continue#8516; context length from gemini-cli#4231; invalid role
from langgenius/dify-official-plugins#566. Error envelope: https://ai.google.dev/gemini-api/docs/troubleshooting.
"""

import json

from . import common, gemini_stream
from .book import SimRequest
from .reply import pretty, sse

NAME = "gemini"
REQUIRES_KEY = True
RATE_DOC = (
    "You exceeded your current quota, please check your plan and billing details. For more "
    "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. "
    "To monitor your current usage, head to: https://ai.dev/rate-limit. "
)


def key_of(headers, query):
    return headers.get("x-goog-api-key") or query.get("key") or None


def parse(path_model, body, key):
    contents = body.get("contents") if isinstance(body.get("contents"), list) else []
    config = body.get("generationConfig") or {}
    return SimRequest(
        provider=NAME,
        model=path_model.split(":")[0],
        body=body,
        key=key,
        prompt=_last_user_text(contents),
        json_mode=isinstance(config, dict) and config.get("responseMimeType") == "application/json",
        stream=path_model.endswith(":streamGenerateContent"),
        prefill=_prefill(contents),
    )


def _prefill(contents: list) -> str:
    last = contents[-1] if contents else None
    if isinstance(last, dict) and last.get("role") == "model":
        parts = last.get("parts") if isinstance(last.get("parts"), list) else []
        return "".join(p.get("text", "") for p in parts if isinstance(p, dict))
    return ""


def _last_user_text(contents):
    for c in reversed(contents):
        if isinstance(c, dict) and c.get("role", "user") == "user":
            parts = c.get("parts") or []
            return " ".join(p.get("text", "") for p in parts if isinstance(p, dict))
    return ""


def _err(code, status, message, details=None):
    error = {"code": code, "message": message, "status": status}
    return pretty(code, {"error": error | ({"details": details} if details else {})})


def _envelope(req, extra):
    prompt_tokens = common.token_count(req.prompt)
    usage = {"promptTokenCount": prompt_tokens, "totalTokenCount": prompt_tokens}
    return extra | {
        "usageMetadata": usage,
        "modelVersion": req.model,
        "responseId": common.rand_id(23, urlsafe=True),
    }


def _candidate(text, finish="STOP"):
    content = {"role": "model"} if text is None else {"parts": [{"text": text}], "role": "model"}
    return {"content": content, "finishReason": finish, "index": 0}


def _deliver(req, obj):
    meta = obj.get("usageMetadata") or {}
    usage = meta.get("promptTokenCount", 0), meta.get("candidatesTokenCount", 0)
    if req.stream:
        pieces = gemini_stream.chunks(obj)
        reply = sse(
            [json.dumps(c, ensure_ascii=False) for c, _ in pieces], tokens=[n for _, n in pieces]
        )
    else:
        reply = pretty(200, obj)
    reply.usage = usage
    return reply


def success(req, params):
    text = common.answer_text(NAME, req, params)
    obj = _envelope(req, {"candidates": [_candidate(text)]})
    out = common.token_count(text)
    obj["usageMetadata"] |= {
        "candidatesTokenCount": out,
        "totalTokenCount": obj["usageMetadata"]["promptTokenCount"] + out,
    }
    return _deliver(req, obj)


def invalid_json(req=None):
    return _err(400, "INVALID_ARGUMENT", "Invalid JSON payload received. Unexpected token.")


def missing_key(req):
    msg = (
        "Method doesn't allow unregistered callers (callers without established identity). "
        "Please use API Key or other form of API consumer identity to call this API."
    )
    return _err(403, "PERMISSION_DENIED", msg)


def invalid(req):
    contents = req.body.get("contents")
    if not contents:
        msg = "* GenerateContentRequest.contents: contents is not specified\n"
        return _err(400, "INVALID_ARGUMENT", msg)
    for c in contents:
        if not isinstance(c, dict) or c.get("role", "user") not in ("user", "model"):
            return _err(400, "INVALID_ARGUMENT", "Please use a valid role: user, model.")
    return None


def _quota_429(req, quota_id, metric_limit, delay):
    seconds = delay.rstrip("s")
    violation = {
        "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
        "quotaId": quota_id,
        "quotaDimensions": {"location": "global", "model": req.model},
        "quotaValue": str(metric_limit),
    }
    details = [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [violation]},
        {
            "@type": "type.googleapis.com/google.rpc.Help",
            "links": [
                {
                    "description": "Learn more about Gemini API quotas",
                    "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                }
            ],
        },
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay},
    ]
    message = (
        f"{RATE_DOC}\n* Quota exceeded for metric: generativelanguage.googleapis.com/"
        f"generate_content_free_tier_requests, limit: {metric_limit}, model: {req.model}\n"
        f"Please retry in {seconds}.412345s."
    )
    return _err(429, "RESOURCE_EXHAUSTED", message, details)


def rate_limit(req, params):
    """429 per-minute quota; param retry_delay (default "37s"). No retry-after header, ever."""
    quota_id = "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"
    return _quota_429(req, quota_id, 10, params.get("retry_delay", "37s"))


def quota(req, params):
    """429 per-day quota that still carries a short retryDelay (default "36s")."""
    quota_id = "GenerateRequestsPerDayPerProjectPerModel-FreeTier"
    return _quota_429(req, quota_id, 250, params.get("retry_delay", "36s"))


def auth(req, params):
    """Variants: invalid (400 API_KEY_INVALID, default), permission_denied (403 leaked key)."""
    if params.get("variant") == "permission_denied":
        msg = "Your API key was reported as leaked. Please use another API key."
        return _err(403, "PERMISSION_DENIED", msg)
    msg = "API key not valid. Please pass a valid API key."
    details = [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
            "metadata": {"service": "generativelanguage.googleapis.com"},
        },
        {
            "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
            "locale": "en-US",
            "message": msg,
        },
    ]
    return _err(400, "INVALID_ARGUMENT", msg, details)


def unavailable(req, params):
    """Variants: overloaded (503 UNAVAILABLE, default), json500, text503, cloudflare502."""
    variant = params.get("variant", "overloaded")
    if variant == "json500":
        msg = (
            "An internal error has occurred. Please retry or report in "
            "https://developers.generativeai.google/guide/troubleshooting"
        )
        return _err(500, "INTERNAL", msg)
    edge = common.edge_page(variant)
    return edge or _err(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")


def context_length(req, params):
    msg = "The input token count (1200293) exceeds the maximum number of tokens allowed (1048576)."
    return _err(400, "INVALID_ARGUMENT", msg)


def bad_request(req, params):
    """Variants: invalid_role (default), invalid_argument."""
    if params.get("variant") == "invalid_argument":
        return _err(400, "INVALID_ARGUMENT", "Request contains an invalid argument.")
    return _err(400, "INVALID_ARGUMENT", "Please use a valid role: user, model.")


def blocked(req, params):
    """Variants: prompt (promptFeedback.blockReason, default), candidate (finishReason, no parts)."""
    reason = params.get("reason", "SAFETY")
    if params.get("variant") == "candidate":
        return _deliver(req, _envelope(req, {"candidates": [_candidate(None, reason)]}))
    return _deliver(req, _envelope(req, {"promptFeedback": {"blockReason": reason}}))


def empty(req, params):
    """Variants: no_candidates (default), empty_content (a candidate whose text is "")."""
    if params.get("variant") == "empty_content":
        return _deliver(req, _envelope(req, {"candidates": [_candidate("")]}))
    return _deliver(req, _envelope(req, {}))


def json_invalid(req, params):
    return _deliver(req, _envelope(req, {"candidates": [_candidate("\n\n   \n")]}))


ERROR_OBJECT = {
    "error": {
        "code": 500,
        "message": "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
        "status": "INTERNAL",
    }
}


def error_in_stream(req, params):
    """The answer's start (param after_text, default "[gemini] "), then the error object."""
    before = params.get("after_text", f"[{NAME}] ")
    first = [json.dumps(_envelope(req, {"candidates": [_candidate(before)]}))] if before else []
    return sse(first + [json.dumps(ERROR_OBJECT)])


def tool_call(req, params):
    """A functionCall part (args an object, no id), finishReason STOP, as Gemini answers a call."""
    name, args = common.tool_call_of(req.body.get("tools"), params, _first_declared)
    content = {"parts": [{"functionCall": {"name": name, "args": args}}], "role": "model"}
    candidate = {"content": content, "finishReason": "STOP", "index": 0}
    return _deliver(req, _envelope(req, {"candidates": [candidate]}))


def _first_declared(tool):
    declarations = tool.get("functionDeclarations") if isinstance(tool, dict) else None
    first = declarations[0] if isinstance(declarations, list) and declarations else None
    return first.get("name") if isinstance(first, dict) else None
