"""A stream that breaks after its first token reaches the Congress's triggers exactly as the same
failure before the first token does: an outage that only shows mid-stream still escalates."""

import pytest

from llmfallback import services
from llmfallback.models import Escalation
from tests.v1.conftest import ask
from tests.v1.test_streaming_api import events_of

# groq's stream carries an error object: before any text, or after the answer began.
BROKEN = {
    "before the first token": {"behavior": "error_in_stream", "times": -1},
    "after the first token": {
        "behavior": "error_in_stream",
        "after_text": "The answer is",
        "times": -1,
    },
}


@pytest.fixture
def stream_broken(chat, sim, settings, use_providers):
    # gemini's restarted answer does not begin with groq's text: a break after the first token
    # cannot be continued, and the caller sees the error event.
    use_providers(LLM_PROVIDER_PRIORITY="groq,gemini")
    settings.LLM_CONGRESS_THRESHOLD_REPEATED_ERROR = 3
    settings.LLM_MAX_RETRIES_PER_PROVIDER = 0  # one groq failure per request, either way

    def post(when):
        sim.script("groq", [BROKEN[when]])
        events = events_of(chat(ask(stream=True)))
        services.provider_cooldown_reset(name="groq", by="test")  # so groq is asked again
        return events

    return post


@pytest.mark.parametrize("when", list(BROKEN))
def test_repeated_stream_failures_escalate_the_same_before_or_after_the_first_token(
    stream_broken, when
):
    for _ in range(2):
        events = stream_broken(when)
        assert not Escalation.objects.exists()  # below the threshold
    if when == "after the first token":  # the caller saw groq's error, not an answer
        assert events[-1]["error"]["code"] == "provider_unavailable"
    else:  # gemini answered
        assert events[-1] == "[DONE]"
    stream_broken(when)
    escalation = Escalation.objects.get()
    assert escalation.trigger == "repeated_error"
    assert escalation.providers == ["groq"]
    assert "groq failed with unavailable 3 times" in escalation.reason


def test_a_mid_stream_failure_counts_into_the_open_escalation_as_one_providers(
    stream_broken, settings
):
    settings.LLM_CONGRESS_THRESHOLD_REPEATED_ERROR = 1
    stream_broken("after the first token")
    opened = Escalation.objects.get()
    stream_broken("after the first token")
    escalation = Escalation.objects.get()
    assert escalation.pk == opened.pk and escalation.failures == opened.failures + 1
    # Not "every provider failed": the providers after groq were never asked.
    assert escalation.trigger == "repeated_error"
    assert escalation.failed_requests == opened.failed_requests
    detail = escalation.events.filter(kind="failure").latest("pk").detail
    assert detail["all_failed"] is False
    assert [a["error_type"] for a in detail["attempts"]] == ["unavailable"]
