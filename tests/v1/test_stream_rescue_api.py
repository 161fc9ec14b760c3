"""/v1 streams that break after content reached the caller are continued on the next provider,
over the simulator's real bytes: Groq's and DeepSeek's SSE, Gemini's streamGenerateContent."""

import pytest

from llmfallback.models import ErrorEvent
from tests.v1.conftest import WEATHER_TOOL
from tests.v1.test_streaming_api import events_of, text_of

ANSWER = "A gateway earns trust only when the provider behind it misbehaves badly."
CUT = {"behavior": "stream_stall", "after": 5, "then": "close", "duration_s": 0.05}


@pytest.fixture
def stream(chat):
    def post(**fields):
        body = {"model": "auto", "messages": [{"role": "user", "content": "Hi"}], "stream": True}
        return chat(body | fields)

    return post


def finish_chunk(events) -> dict:
    return next(e for e in events if isinstance(e, dict) and e.get("x_d8"))


def served_modes(events) -> list:
    return [(s["provider"], s["mode"]) for s in finish_chunk(events)["x_d8"]["served_by"]]


BREAKS = {
    "cut": CUT,
    "stall": {"behavior": "stream_stall", "after": 5, "interval_s": 0.05, "duration_s": 3},
    "malformed": {"behavior": "malformed", "at": 5},
    "error_event": {"behavior": "error_in_stream", "after_text": "A gateway earns trust"},
}


@pytest.mark.parametrize("shape", sorted(BREAKS))
def test_a_broken_stream_is_spliced_from_geminis_restarted_answer(stream, sim, settings, shape):
    settings.LLM_STREAM_STALL_S = 0.5
    sim.script("groq", [BREAKS[shape] | {"content": ANSWER}])
    sim.script("gemini", [{"behavior": "ok", "content": ANSWER}])
    events = events_of(stream())
    assert text_of(events) == ANSWER and events[-1] == "[DONE]"
    assert served_modes(events) == [("groq", "fresh"), ("gemini", "splice")]
    assert ErrorEvent.objects.filter(provider="groq").exists()  # the break is groq's failure
    # The chunks after the switch name the provider that wrote them.
    assert events[-2]["model"].startswith("gemini/")


@pytest.mark.parametrize("shape", sorted(BREAKS))
def test_a_broken_stream_is_continued_by_deepseeks_prefix_completion(
    stream, sim, settings, use_providers, shape
):
    settings.LLM_STREAM_STALL_S = 0.5
    use_providers(LLM_PROVIDER_PRIORITY="groq,deepseek")
    sim.script("groq", [BREAKS[shape] | {"content": ANSWER}])
    sim.script("deepseek", [{"behavior": "ok", "content": ANSWER}])
    events = events_of(stream(stream_options={"include_usage": True}))
    assert text_of(events) == ANSWER and events[-1] == "[DONE]"
    assert served_modes(events) == [("groq", "fresh"), ("deepseek", "prefill")]
    assert sim.calls()["deepseek"] == 1
    assert events[-2]["usage"]["total_tokens"] > 0  # the serving providers' usage


def test_a_fallback_that_rejects_the_prefill_is_asked_again_and_spliced(stream, sim, use_providers):
    use_providers(LLM_PROVIDER_PRIORITY="groq,deepseek")
    sim.script("groq", [CUT | {"content": ANSWER}])
    sim.script("deepseek", [{"behavior": "ok", "content": ANSWER, "reject_prefill": True}] * 2)
    events = events_of(stream())
    assert text_of(events) == ANSWER and events[-1] == "[DONE]"
    assert served_modes(events)[-1] == ("deepseek", "splice")
    assert not ErrorEvent.objects.filter(provider="deepseek", refused=False).exists()


def test_when_no_provider_can_continue_the_original_failure_ends_the_stream_not_the_400(
    stream, sim, use_providers
):
    use_providers(LLM_PROVIDER_PRIORITY="groq,deepseek")
    sim.script("groq", [CUT | {"content": ANSWER}])
    other = "Something else entirely, said another way."
    sim.script("deepseek", [{"behavior": "ok", "content": other, "reject_prefill": True}] * 2)
    events = events_of(stream())
    assert "[DONE]" not in events
    assert text_of(events) == "A gateway earns trust"
    assert events[-1]["error"]["code"] == "provider_unavailable"  # the cut, not the prefill 400


def test_no_continuation_once_tool_call_pieces_went_out(stream, sim):
    sim.script("groq", [CUT | {"after": 2, "tool_call": True}])
    events = events_of(stream(tools=[WEATHER_TOOL]))
    assert "[DONE]" not in events and events[-1]["error"]["code"] == "provider_unavailable"
    assert sim.calls()["gemini"] == 0 and sim.calls()["deepseek"] == 0


def test_a_first_token_later_than_the_limit_fails_over(stream, sim, settings):
    settings.LLM_FIRST_TOKEN_TIMEOUT_S = 0.4
    sim.script("groq", [{"behavior": "keepalive", "interval_s": 0.05, "duration_s": 3}])
    r = stream()
    assert r["x-d8-provider"] == "gemini" and events_of(r)[-1] == "[DONE]"
    assert ErrorEvent.objects.filter(provider="groq", error_type="timeout").exists()


@pytest.mark.parametrize(
    ("broken", "rescuer", "mode"),
    [
        ("gemini", "groq", "prefill"),
        ("deepseek", "gemini", "splice"),
        ("gemini", "deepseek", "prefill"),
    ],
)
@pytest.mark.parametrize("shape", ["cut", "stall", "error_event"])
def test_each_providers_own_stream_bytes_break_and_are_continued(
    stream, sim, settings, use_providers, broken, rescuer, mode, shape
):
    settings.LLM_STREAM_STALL_S = 0.5
    use_providers(LLM_PROVIDER_PRIORITY=f"{broken},{rescuer}")
    sim.script(broken, [BREAKS[shape] | {"content": ANSWER}])
    sim.script(rescuer, [{"behavior": "ok", "content": ANSWER}])
    events = events_of(stream())
    assert text_of(events) == ANSWER and events[-1] == "[DONE]"
    assert served_modes(events) == [(broken, "fresh"), (rescuer, mode)]
    assert ErrorEvent.objects.filter(provider=broken, refused=False).exists()
