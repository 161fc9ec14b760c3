"""OpenTelemetry: one server span per chat request, a child span per upstream attempt, checked with
the SDK's in-memory exporter; no prompt text unless operators opt in; off costs nothing."""

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from llmfallback.ops import tracing
from tests.v1.conftest import ask

pytestmark = pytest.mark.django_db
SECRET_PROMPT = "the launch code is 0451"


@pytest.fixture
def spans():
    """Tracing on, into memory; `spans()` returns what has ended, by name."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider)
    yield exporter.get_finished_spans
    tracing.stop()


@pytest.fixture
def chat(agent, use_providers, sim):
    return lambda body, path="/v1/chat/completions": agent.post(path, body, format="json")


def tree(finished) -> tuple:
    """(the server span, its children in start order); every span belongs to that one trace."""
    (root,) = [s for s in finished if s.kind == SpanKind.SERVER]
    assert {s.context.trace_id for s in finished} == {root.context.trace_id}
    children = [s for s in finished if s.parent and s.parent.span_id == root.context.span_id]
    assert len(children) == len(finished) - 1
    return root, sorted(children, key=lambda s: s.start_time)


def test_a_fallback_is_one_server_span_with_a_child_per_attempt(chat, sim, spans):
    sim.script("groq", [{"behavior": "rate_limit", "retry_after": 30}])
    assert chat(ask("Hello")).status_code == 200
    root, (groq, gemini) = tree(spans())
    assert root.name == "POST /v1/chat/completions"
    assert root.attributes["http.response.status_code"] == 200
    assert root.attributes["gen_ai.request.model"] == "auto"
    assert root.attributes["gen_ai.provider.name"] == "gemini"
    assert root.attributes["gen_ai.response.model"] == "gemini/gemini-2.5-flash"
    assert root.attributes["gen_ai.usage.output_tokens"] > 0 and root.attributes["d8.attempts"] == 2
    assert groq.kind == SpanKind.CLIENT and groq.name == "chat llama-3.3-70b-versatile"
    assert groq.attributes["gen_ai.provider.name"] == "groq"
    assert (
        groq.attributes["error.type"] == "rate_limit"
        and groq.status.status_code == StatusCode.ERROR
    )
    assert groq.attributes["http.response.status_code"] == 429 and groq.attributes["d8.key"] == "k1"
    assert gemini.attributes["gen_ai.request.model"] == "gemini-2.5-flash"
    assert (
        gemini.attributes["gen_ai.usage.input_tokens"] > 0 and "error.type" not in gemini.attributes
    )


def test_retries_say_which_they_are_and_what_came_before(chat, sim, spans):
    sim.script("groq", [{"behavior": "unavailable", "times": 2}])
    chat(ask())
    _, attempts = tree(spans())
    assert [(s.attributes["d8.retry"], s.attributes.get("d8.retry.reason")) for s in attempts] == [
        (0, None),
        (1, "unavailable"),
        (2, "unavailable"),
    ]


def test_providers_passed_over_get_a_span_saying_why(chat, sim, spans, settings):
    schema = {"type": "json_schema", "json_schema": {"name": "s", "schema": {"type": "object"}}}
    sim.script("groq", [{"behavior": "rate_limit", "retry_after": 30}])
    chat(ask())  # groq cools down for 30 s
    chat(ask(model="deepseek", response_format=schema))
    skipped = {s.name: s.attributes["d8.skip.reason"] for s in spans() if s.name.startswith("skip")}
    assert skipped["skip deepseek"] == "deepseek does not support json_schema"
    assert skipped["skip groq"].startswith("cooling down")


def test_a_failed_request_names_its_failure_class(chat, sim, spans):
    for name in ("groq", "gemini", "deepseek"):
        sim.script(name, [{"behavior": "rate_limit", "retry_after": 30, "retry_delay": "30s"}])
    assert chat(ask()).status_code == 503
    root, attempts = tree(spans())
    assert root.attributes["error.type"] == "AllProvidersFailed"
    assert root.status.status_code == StatusCode.ERROR and len(attempts) == 3


@pytest.mark.parametrize(
    "path, body",
    [
        (
            "/v1/messages",
            {
                "model": "auto",
                "max_tokens": 50,
                "stream": True,
                "messages": [{"role": "user", "content": "Hi"}],
            },
        ),
        ("/v1/responses", {"model": "auto", "input": "Hi", "stream": True}),
        ("/v1/chat/completions", ask(stream=True)),
    ],
)
def test_a_stream_ends_its_server_span_with_the_stream(chat, sim, spans, path, body):
    sim.script("groq", [{"behavior": "error_in_stream", "times": 3}])
    response = chat(body, path)
    assert not [s for s in spans() if s.kind == SpanKind.SERVER]  # still streaming
    b"".join(response.streaming_content)
    root, attempts = tree(spans())
    assert root.name == f"POST {path}" and root.attributes["gen_ai.provider.name"] == "gemini"
    assert root.attributes["gen_ai.usage.output_tokens"] > 0
    assert [s.attributes.get("error.type") for s in attempts] == ["unavailable"] * 3 + [None]


def test_no_prompt_or_answer_text_is_in_any_span(chat, spans):
    chat(ask(SECRET_PROMPT))
    chat({"model": "auto", "input": SECRET_PROMPT}, "/v1/responses")
    assert spans() and SECRET_PROMPT not in _everything(spans())


def test_operators_may_opt_in_to_prompts_in_spans(chat, spans):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider, capture_content=True)
    chat(ask(SECRET_PROMPT))
    (root,) = [s for s in exporter.get_finished_spans() if s.kind == SpanKind.SERVER]
    assert (
        SECRET_PROMPT
        in json.loads(root.attributes["gen_ai.input.messages"])[0]["parts"][0]["content"]
    )
    assert SECRET_PROMPT in root.attributes["gen_ai.output.messages"]


def _everything(finished) -> str:
    return json.dumps([s.to_json() for s in finished])


def test_off_no_opentelemetry_is_imported_by_a_chat_request(tmp_path):
    code = (
        "import sys, django, os;"
        "os.environ.pop('OTEL_EXPORTER_OTLP_ENDPOINT', None);"
        "os.environ['DJANGO_SETTINGS_MODULE'] = 'd8site.settings';"
        "django.setup();"
        "from django.test import Client;"
        "r = Client(HTTP_HOST='127.0.0.1').post('/v1/chat/completions', {}, content_type='application/json');"
        "assert r.status_code == 401, r.status_code;"
        "assert not [m for m in sys.modules if m.startswith('opentelemetry')], 'imported'"
    )
    env = {"SQLITE_PATH": str(tmp_path / "db.sqlite3"), "DJANGO_ALLOW_DEV_SECRET_KEY": "true"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=_env(env), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]


def _env(extra: dict) -> dict:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")} | extra


class _Collector(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - http.server's name
        self.received.append((self.path, self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_with_an_endpoint_spans_are_exported_over_otlp(chat, monkeypatch):
    collector = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{collector.server_port}")
    try:
        provider = tracing.setup(service_name="d8-test", capture_content=False)
        chat(ask())
        provider.force_flush()
    finally:
        tracing.stop()
        collector.shutdown()
    (path, body), *_ = _Collector.received
    assert path == "/v1/traces"
    assert b"POST /v1/chat/completions" in body and b"d8-test" in body


def test_the_seed_chat_endpoint_is_traced_too(chat, spans):
    body = {"messages": [{"role": "user", "content": "Hi"}]}
    assert chat(body, "/api/llm/chat").status_code == 200
    root, (attempt,) = tree(spans())
    assert root.name == "POST /api/llm/chat" and root.attributes["gen_ai.provider.name"] == "groq"
    assert attempt.attributes["gen_ai.provider.name"] == "groq"
