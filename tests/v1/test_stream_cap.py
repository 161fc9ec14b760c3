"""LLM_STREAM_MAX_S through /v1 over the loopback simulator: the cap ends a live stream with
OpenAI's error event, never [DONE], and health records a timeout."""

from llmfallback.models import ErrorEvent
from tests.v1.conftest import ask
from tests.v1.test_streaming_api import events_of, text_of


def test_a_stream_past_its_total_limit_ends_with_a_timeout_error_event(chat, sim, settings):
    settings.LLM_STREAM_STALL_S = 5.0  # no gap comes near the stall limit: only the cap can end it
    settings.LLM_STREAM_MAX_S = 0.3
    # The first token, then 0.6 s of keep-alives before the rest of the answer.
    sim.script("groq", [{"behavior": "stream_stall", "interval_s": 0.05, "duration_s": 0.6}])
    r = chat(ask(stream=True))
    assert r.status_code == 200 and r["x-d8-provider"] == "groq"
    events = events_of(r)
    assert "[DONE]" not in events and text_of(events)  # the first token went out
    error = events[-1]["error"]
    assert error["code"] == "provider_timeout" and "total limit of 0.3s" in error["message"]
    assert sim.calls()["gemini"] == 0
    assert ErrorEvent.objects.filter(provider="groq", error_type="timeout").count() == 1
