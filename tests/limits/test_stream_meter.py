"""What a stream is charged when it ends before the provider's final usage: the provider's own
count so far where it gives one, else the prompt and the pieces relayed (issue 24)."""

from llmfallback.core.errors import Unavailable
from llmfallback.core.stream_events import (
    Delta,
    StreamDone,
    StreamFailed,
    StreamResumed,
    StreamStart,
    ToolCallDelta,
)
from llmfallback.core.types import ChatRequest, Message, Usage
from llmfallback.http.metering import StreamMeter

REQUEST = ChatRequest((Message("user", "Tell me a story"),))  # 15 characters: 4 tokens
PROMPT = 4
START = StreamStart("groq", "llama", "k1", ())


def meter(*events) -> int:
    m = StreamMeter(REQUEST)
    for event in events:
        m.see(event)
    return m.tokens()


def test_a_finished_stream_is_charged_the_usage_the_provider_reported():
    assert meter(START, Delta("Once"), StreamDone("stop", Usage(7, 30, 37), ())) == 37


def test_a_stream_that_never_started_is_charged_nothing():
    assert meter() == 0


def test_a_cut_stream_counts_a_token_a_piece_when_the_pieces_are_short():
    # OpenAI-compatible providers stream about a token a chunk: " a", "\n" are a token each
    pieces = [Delta("Once"), Delta(" a"), Delta("\n"), Delta(" b")]
    assert meter(START, *pieces) == PROMPT + 4  # 9 characters would say 3


def test_a_cut_stream_counts_characters_when_the_pieces_are_long():
    assert meter(START, Delta("x" * 40), Delta("y" * 20)) == PROMPT + 15


def test_tool_call_pieces_count_like_text():
    call = Delta(tool_calls=(ToolCallDelta(0, "call_1", "weather", ""),))
    args = Delta(tool_calls=(ToolCallDelta(0, arguments='{"city": "Paris, France"}'),))
    assert meter(START, call, args) == PROMPT + 8  # 32 characters in 2 pieces


def test_a_provider_that_reports_its_usage_on_every_chunk_is_charged_that():
    # Gemini's usageMetadata counts the answer so far, thinking included
    pieces = [Delta("There are", usage=Usage(9, 190, 199)), Delta(" 3", usage=Usage(9, 195, 204))]
    failed = StreamFailed(Unavailable("cut", status=200), ())
    assert meter(START, *pieces, failed) == 204


def test_each_provider_that_served_a_share_is_charged_for_it():
    first = [Delta("One", usage=Usage(9, 5, 14))]
    resumed = StreamResumed("deepseek", "deepseek-chat", "k1", "prefill")
    assert meter(START, *first, resumed, Delta(" two"), Delta(" 3")) == 14 + PROMPT + 2
