"""OpenTelemetry traces: one server span per chat request, a child span per upstream attempt.

Off unless OTEL_EXPORTER_OTLP_ENDPOINT is set (settings.py; apps.py calls setup): then nothing
of OpenTelemetry is imported and a chat request pays one module-global read per hook. The
packages are optional (`pip install '.[otel]'`). Spans follow the GenAI semantic conventions
(https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/): the server span carries the
route, who answered and the usage; each attempt its provider, model, key label, error class,
tokens and retry; providers passed over get a zero-length span saying why. Prompts and answers
are never recorded unless OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT is true.
"""

from __future__ import annotations

import functools
import json

from llmfallback.core.errors import ProviderError
from llmfallback.core.stream_events import StreamDone, StreamEnd, StreamFailed

tracer = None  # the tracer while tracing is on (setup or use), else None
_capture = False  # whether prompts and answers go into spans (operators' opt-in)


def setup(*, service_name: str, capture_content: bool):
    """Export over OTLP/HTTP (the exporter reads OTEL_EXPORTER_OTLP_* itself); returns the
    TracerProvider, which flushes what it holds when the process exits."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as e:
        raise RuntimeError(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but OpenTelemetry is not installed:"
            " pip install 'd8-llm-fallback[otel]' (or unset the variable)"
        ) from e
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    use(provider, capture_content=capture_content)
    return provider


def use(provider, *, capture_content: bool = False) -> None:
    """Trace with this TracerProvider (tests hand one with an in-memory exporter)."""
    global tracer, _capture
    tracer, _capture = provider.get_tracer("d8.llmfallback"), capture_content


def stop() -> None:
    global tracer
    tracer = None


def server(view, route: str):
    """`view` inside a server span named for its route; the span of a streamed answer ends with
    the stream."""

    @functools.wraps(view)
    def traced(request, *args, **kwargs):
        if tracer is None:
            return view(request, *args, **kwargs)
        return _serve(view, route, request, args, kwargs)

    return traced


def _serve(view, route: str, request, args, kwargs):
    from opentelemetry import context, trace
    from opentelemetry.trace import SpanKind, StatusCode

    attributes = {"http.request.method": request.method, "http.route": route}
    attributes |= {"url.path": request.path[:300], "gen_ai.operation.name": "chat"}
    span = tracer.start_span(
        f"{request.method} {route}", kind=SpanKind.SERVER, attributes=attributes
    )
    token = context.attach(trace.set_span_in_context(span))
    try:
        response = view(request, *args, **kwargs)
    except BaseException as e:
        span.record_exception(e)
        span.set_status(StatusCode.ERROR)
        span.end()
        raise
    finally:
        context.detach(token)
    span.set_attribute("http.response.status_code", response.status_code)
    if response.status_code >= 500:
        span.set_status(StatusCode.ERROR)
    if response.streaming:
        response.streaming_content = _ending(response.streaming_content, span)
    else:
        span.end()
    return response


def _ending(content, span):
    try:
        yield from content
    finally:
        span.end()


def current():
    """The request's server span while tracing is on (kept by a stream for its end), else None."""
    if tracer is None:
        return None
    from opentelemetry import trace

    return trace.get_current_span()


def routed(span, *, model: str, route: str, request, skips=()) -> None:
    """The route a request takes; providers skipped for what they cannot do get a span each."""
    if span is None:
        return
    span.set_attribute("gen_ai.request.model", model)
    span.set_attribute("d8.route", route)
    if request.max_tokens is not None:
        span.set_attribute("gen_ai.request.max_tokens", request.max_tokens)
    if _capture:
        messages = [
            {"role": m.role, "parts": [{"type": "text", "content": m.content}]}
            for m in request.messages
        ]
        span.set_attribute("gen_ai.input.messages", json.dumps(messages, ensure_ascii=False))
    for attempt in skips:
        _skip(span, attempt.provider, attempt.message)


def answered(
    span, *, provider: str, model: str, usage, names=(), attempts=(), content=None
) -> None:
    """Who answered, with what usage; providers before it that were never called (cooling down,
    unavailable, or their probe held elsewhere) get a span each."""
    if span is None:
        return
    span.set_attribute("gen_ai.provider.name", provider)
    span.set_attribute("gen_ai.response.model", f"{provider}/{model}")
    span.set_attribute("gen_ai.usage.input_tokens", usage.prompt_tokens)
    span.set_attribute("gen_ai.usage.output_tokens", usage.completion_tokens)
    calls = sum(a.error_type not in ("unsupported", "cooldown") for a in attempts)
    span.set_attribute("d8.attempts", calls)
    if _capture and content is not None:
        output = [{"role": "assistant", "parts": [{"type": "text", "content": content}]}]
        span.set_attribute("gen_ai.output.messages", json.dumps(output, ensure_ascii=False))
    _passed_over(span, names[: names.index(provider)] if provider in names else (), attempts)


def failed(span, *, error: Exception, names=(), attempts=()) -> None:
    """The request got no answer: the class of failure, and the providers never called."""
    if span is None:
        return
    # A provider's failure, or the refusal a CallerError carries; else the class of failure.
    kind = getattr(error, "kind", None) or getattr(getattr(error, "error", None), "kind", None)
    span.set_attribute("error.type", kind.value if kind else type(error).__name__)
    _passed_over(span, names, attempts)


def stream_event(span, start, event, *, names=()) -> None:
    """A stream's end on its request's span (`start`: its StreamStart): who answered and the
    usage, or the failure. Other events change nothing here."""
    if isinstance(event, StreamDone):
        usage, attempts = event.usage, event.attempts
        answered(
            span,
            provider=start.provider,
            model=start.model,
            usage=usage,
            attempts=attempts,
            names=names,
        )
    elif isinstance(event, StreamFailed):
        failed(span, error=event.error, attempts=event.attempts)


def _passed_over(span, names, attempts) -> None:
    # A "cooldown" attempt is a provider passed by, named in the answer (http/routes.py).
    called = {a.provider for a in attempts if a.error_type != "cooldown"}
    why = {a.provider: a.message for a in attempts if a.error_type == "cooldown"}
    for name in names:
        if name not in called:
            _skip(span, name, why.get(name) or "cooling down or unavailable: not called")


def _skip(parent, provider: str, reason: str) -> None:
    from opentelemetry import trace

    span = tracer.start_span(
        f"skip {provider}",
        context=trace.set_span_in_context(parent),
        attributes={"gen_ai.provider.name": provider, "d8.skip.reason": reason[:300]},
    )
    span.end(end_time=span.start_time)


def traced(providers: list) -> list:
    """The providers of one request, each call to them in a child span of the request's."""
    from opentelemetry import context

    parent = context.get_current()
    return [_TracedProvider(p, parent) for p in providers]


class _TracedProvider:
    """One request's view of a provider adapter: every call is an attempt span. It counts the
    calls of each key, so a retry says which one it is and what the one before it met."""

    def __init__(self, provider, parent) -> None:
        self._provider, self._parent, self._tries = provider, parent, {}

    def __getattr__(self, name):
        return getattr(self._provider, name)

    def chat(self, request, **kwargs):
        span = self._start(request, kwargs["key"])
        try:
            completion = self._provider.chat(request, **kwargs)
        except BaseException as e:
            self._end(span, kwargs["key"], e)
            raise
        self._answer(span, completion.model, completion.usage, completion.finish_reason)
        self._end(span, kwargs["key"], None)
        return completion

    def stream(self, request, **kwargs):
        span = self._start(request, kwargs["key"])
        return self._streaming(span, kwargs["key"], self._provider.stream(request, **kwargs))

    def _streaming(self, span, key, events):
        error = None
        try:
            for event in events:
                if isinstance(event, StreamEnd):
                    self._answer(span, event.model, event.usage, event.finish_reason)
                yield event
        except GeneratorExit:  # the engine let go (a first-token timeout), or the caller left
            span.set_attribute("d8.closed_early", True)
            raise
        except BaseException as e:
            error = e
            raise
        finally:
            events.close()
            self._end(span, key, error)

    def _start(self, request, key):
        from opentelemetry.trace import SpanKind

        p = self._provider
        tries = self._tries.setdefault(key.label, [])
        attributes = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": p.name,
            "gen_ai.request.model": p.model,
            "d8.key": key.label,
            "d8.retry": len(tries),
        }
        if tries:
            attributes["d8.retry.reason"] = tries[-1]
        if request.max_tokens is not None:
            attributes["gen_ai.request.max_tokens"] = request.max_tokens
        if request.temperature is not None:
            attributes["gen_ai.request.temperature"] = request.temperature
        return tracer.start_span(
            f"chat {p.model}", context=self._parent, kind=SpanKind.CLIENT, attributes=attributes
        )

    def _answer(self, span, model, usage, finish) -> None:
        span.set_attribute("gen_ai.response.model", model or self._provider.model)
        if usage is not None:
            span.set_attribute("gen_ai.usage.input_tokens", usage.prompt_tokens)
            span.set_attribute("gen_ai.usage.output_tokens", usage.completion_tokens)
        if finish:
            span.set_attribute("gen_ai.response.finish_reasons", [finish])

    def _end(self, span, key, error) -> None:
        from opentelemetry.trace import StatusCode

        kind = error.kind.value if isinstance(error, ProviderError) else None
        self._tries[key.label].append(kind or ("ok" if error is None else type(error).__name__))
        if error is not None:
            span.set_attribute("error.type", kind or type(error).__name__)
            if getattr(error, "status", None):
                span.set_attribute("http.response.status_code", error.status)
            span.set_status(StatusCode.ERROR)  # the message may quote a provider: left out
        span.end()
