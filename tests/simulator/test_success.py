"""The plain success path of each provider, and its real answers to nonsense requests."""

import json

from llmfallback.simulator.paths import route


def test_groq_success_has_groq_usage_and_ids(call):
    r = call("groq")
    assert r.status_code == 200
    body = r.json()
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "[groq] hello"}
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["id"].startswith("chatcmpl-") and body["x_groq"]["id"].startswith("req_")
    assert {"queue_time", "prompt_time", "completion_time", "total_time"} <= body["usage"].keys()
    assert body["service_tier"] == "on_demand" and body["system_fingerprint"]
    assert body["model"] == "m-1" and isinstance(body["created"], int)
    assert r.headers["x-ratelimit-reset-requests"] == "6s"
    assert r.headers["content-length"] == str(len(r.content))


def test_gemini_success_is_pretty_and_model_shaped(call):
    r = call("gemini")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json; charset=UTF-8"
    assert r.text.startswith('{\n  "candidates"') and r.text.endswith("}\n")
    body = r.json()
    candidate = body["candidates"][0]
    assert candidate["content"] == {"parts": [{"text": "[gemini] hello"}], "role": "model"}
    assert candidate["finishReason"] == "STOP"
    assert body["modelVersion"] == "gemini-2.0-flash" and body["responseId"]
    assert body["usageMetadata"]["totalTokenCount"] >= body["usageMetadata"]["promptTokenCount"]


def test_deepseek_success_on_both_paths(call, http, sim_server):
    body = call("deepseek").json()
    assert body["choices"][0]["message"]["content"] == "[deepseek] hello"
    assert "prompt_cache_hit_tokens" in body["usage"]
    base_url, _ = sim_server
    r = http.post(
        f"{base_url}/deepseek/v1/chat/completions",
        json={"model": "deepseek-chat", "messages": [{"role": "user", "content": "x"}]},
        headers={"Authorization": "Bearer sk-sim"},
    )
    assert r.status_code == 200


def test_generic_openai_server_needs_no_key(call):
    r = call("ollama", key=None)
    assert r.status_code == 200
    assert r.json()["choices"][0]["message"]["content"] == "[ollama] hello"


def test_json_mode_returns_a_small_json_object(call):
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "response_format": {"type": "json_object"},
    }
    content = call("groq", body).json()["choices"][0]["message"]["content"]
    assert json.loads(content) == {"provider": "groq", "echo": "hi", "ok": True}
    gem = {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "generationConfig": {"responseMimeType": "application/json"},
    }
    text = call("gemini", gem).json()["candidates"][0]["content"]["parts"][0]["text"]
    assert json.loads(text)["provider"] == "gemini"


def test_openai_stream_sends_chunks_and_done(call):
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    r = call("groq", body)
    assert r.headers["content-type"] == "text/event-stream"
    events = [line[6:] for line in r.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    deltas = [json.loads(e)["choices"][0]["delta"] for e in events[:-1]]
    assert "".join(d.get("content") or "" for d in deltas) == "[groq] hi"


def test_gemini_stream_is_sse_without_done(call):
    r = call("gemini", path="streamGenerateContent")
    assert r.headers["content-type"] == "text/event-stream"
    assert "[DONE]" not in r.text
    assert json.loads(r.text.split("data: ")[-1])["candidates"][0]["finishReason"] == "STOP"


def test_invalid_role_gets_each_providers_real_400(call):
    bad = {"model": "m", "messages": [{"role": "human", "content": "hi"}]}
    groq = call("groq", bad)
    assert groq.status_code == 400
    assert groq.text == (
        '{"error":{"message":"\'messages.0\' : discriminator property \'role\' has invalid value",'
        '"type":"invalid_request_error"}}\n'
    )
    deepseek = call("deepseek", bad).json()["error"]
    assert deepseek["code"] == "invalid_request_error" and deepseek["param"] is None
    gem = call("gemini", {"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]})
    assert gem.status_code == 400
    assert gem.json()["error"]["message"] == "Please use a valid role: user, model."
    vllm = call("vllm", bad)
    assert vllm.status_code == 400 and vllm.json()["object"] == "error"


def test_invalid_json_is_a_400(call, http, sim_server):
    base_url, _ = sim_server
    r = http.post(
        f"{base_url}/groq/openai/v1/chat/completions",
        content=b"{not json",
        headers={"Authorization": "Bearer gsk_x"},
    )
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"


def test_missing_key_is_refused_like_the_provider(call):
    assert call("groq", key=None).json()["error"]["code"] == "invalid_api_key"
    assert call("deepseek", key=None).status_code == 401
    gem = call("gemini", key=None)
    assert gem.status_code == 403 and gem.json()["error"]["status"] == "PERMISSION_DENIED"


def test_gemini_accepts_the_key_in_the_query(call):
    r = call("gemini", key=None, params={"key": "AIza_query"})
    assert r.status_code == 200


def test_unknown_url_is_404(http, sim_server):
    base_url, _ = sim_server
    assert http.post(f"{base_url}/groq/v2/chat", json={}).status_code == 404


def test_routes():
    assert route("/groq/openai/v1/chat/completions") == ("groq", "")
    assert route("/gemini/v1beta/models/gemini-2.5-flash:generateContent") == (
        "gemini",
        "gemini-2.5-flash:generateContent",
    )
    assert route("/openai/vllm/v1/chat/completions") == ("vllm", "vllm")
    assert route("/deepseek/v1/chat/completions") == ("deepseek", "")
    assert route("/nope") is None
