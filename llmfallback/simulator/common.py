"""Behaviours that look the same whichever provider sits behind them: the socket and the edge."""

import base64
import json
import os

from .reply import Keepalive, Reply, SlowHeaders, text

HANG_DEFAULT_S = 120.0

# Cloudflare's own 502 page when the origin is down (seen in front of api.groq.com;
# byte layout of Cloudflare's nginx-derived error page, CRLF line ends).
CLOUDFLARE_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
    "</body>\r\n</html>\r\n"
)

# Envoy-style plain-text 503 from an edge proxy with no healthy upstream.
EDGE_503 = "upstream connect error or disconnect/reset before headers. reset reason: overflow"


def hang(req, params) -> Reply:
    """Accept the request, send nothing; give up after hang_s (bounded)."""
    return Reply(hang_s=min(float(params.get("hang_s", HANG_DEFAULT_S)), HANG_DEFAULT_S))


def keepalive(req, params, final: Reply) -> Reply:
    """DeepSeek's queue: blank lines before the JSON body, or blank lines forever (bounded)."""
    final.keepalive = Keepalive(
        interval_s=float(params.get("interval_s", 0.5)),
        duration_s=float(params.get("duration_s", 1.0)),
        then=params.get("then", "body"),
        chunked=params.get("transfer", "chunked") == "chunked",
        max_s=min(float(params.get("max_s", HANG_DEFAULT_S)), HANG_DEFAULT_S),
        line=KEEPALIVE_LINES.get(params.get("line", "blank"), b"\n"),
    )
    return final


# What a queue writes while the caller waits: a blank line (DeepSeek's non-streaming queue) or
# an SSE comment (its streaming one, and most proxies that keep an idle stream open).
KEEPALIVE_LINES = {"blank": b"\n", "comment": b": keep-alive\n\n"}


def slow_headers(req, params, final: Reply) -> Reply:
    """Headers one line at a time (a struggling proxy), then the body; bounded like a hang."""
    final.slow_headers = SlowHeaders(
        interval_s=float(params.get("interval_s", 1.0)),
        duration_s=min(float(params.get("duration_s", 2.0)), HANG_DEFAULT_S),
    )
    return final


def truncated(final: Reply) -> Reply:
    """A 200 whose Content-Length promises the whole body; the connection drops halfway."""
    final.truncate = True
    return final


def edge_page(variant: str) -> Reply | None:
    """Errors written by a proxy in front of the provider, not by the provider itself."""
    if variant == "text503":
        return text(503, EDGE_503)
    if variant == "cloudflare502":
        return text(502, CLOUDFLARE_502, "text/html")
    return None


def malformed(final: Reply) -> Reply:
    """A 200 whose JSON stops halfway, as when a proxy cuts the body short."""
    final.body = final.body[: max(1, len(final.body) // 2)]
    return final


def json_answer(provider: str, prompt: str) -> str:
    """The small valid JSON object returned in JSON mode."""
    return json.dumps({"provider": provider, "echo": prompt[:80], "ok": True})


def answer_text(provider: str, req, params) -> str:
    text = _whole_answer(provider, req, params)
    if req.prefill and text.startswith(req.prefill):
        return text[len(req.prefill) :]  # a model continuing its prefill writes what follows
    return text


def _whole_answer(provider: str, req, params) -> str:
    if "content" in params:
        return params["content"]
    if req.json_mode:
        return json_answer(provider, req.prompt)
    return f"[{provider}] {req.prompt}"


# What a model that takes no prefill answers to one (the wording of a provider that refuses
# assistant prefill, in OpenAI's envelope).
PREFILL_REJECTED = {
    "error": {
        "message": "This model does not support assistant message prefill. "
        "The conversation must end with a user message.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "invalid_prefill",
    }
}


def token_count(s: str) -> int:
    return max(1, len(s.split()))


def rand_id(n: int, urlsafe: bool = False) -> str:
    """Random id text: lowercase base32 (Groq's req_… ids) or base64url (Gemini's responseId)."""
    raw = os.urandom(n)
    if urlsafe:
        return base64.urlsafe_b64encode(raw).decode()[:n]
    return base64.b32encode(raw).decode().lower()[:n]


def tool_call_of(tools, params, name_of) -> tuple[str, dict]:
    """(function name, arguments) for a scripted tool call: params name/arguments, else the
    request's first tool with empty arguments."""
    declared = [n for t in (tools if isinstance(tools, list) else []) if (n := name_of(t))]
    name = params.get("name") or (declared[0] if declared else "no_tool_declared")
    return name, dict(params.get("arguments") or {})
