"""Gemini's `:streamGenerateContent?alt=sse`: each `data:` a whole GenerateContentResponse
holding the next piece of the answer; no [DONE]: the stream ends when the connection closes,
the last chunk carrying finishReason; each carries usageMetadata, the answer's usage so far.
https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent, vercel/ai
packages/google/__fixtures__/google-text.chunks.txt (captured bytes).
"""

from __future__ import annotations

from llmfallback.core.errors import ContentFiltered, Unavailable
from llmfallback.core.stream_events import Delta, StreamEnd, ToolCallDelta
from llmfallback.core.types import Usage

from . import gemini_wire
from .openai_wire import json_object
from .shapes import as_dict, as_str, as_text, first_dict


class GeminiStream:
    def __init__(self, model: str) -> None:
        self.model, self.id = model, ""
        self.finish: str | None = None
        self.usage: Usage | None = None
        self.calls = 0  # function calls so far: each becomes one whole OpenAI tool call

    def feed(self, data: str) -> list:
        chunk = json_object(data)
        if chunk.get("error"):
            error = as_dict(chunk["error"])
            message = as_text(error.get("message")) or as_text(chunk["error"])
            raise Unavailable(
                f"error in stream: {message}", status=200, code=as_str(error.get("status"))
            )
        block = as_str(as_dict(chunk.get("promptFeedback")).get("blockReason"))
        if block:
            raise ContentFiltered(f"prompt blocked ({block})", status=200, code=block)
        if isinstance(chunk.get("usageMetadata"), dict):
            self.usage = gemini_wire.usage_of(chunk)
        self.model = as_str(chunk.get("modelVersion")) or self.model
        self.id = self.id or as_str(chunk.get("responseId")) or ""
        candidate = first_dict(chunk.get("candidates"))
        if candidate is None:
            return []
        self.finish = as_str(candidate.get("finishReason")) or self.finish
        text = gemini_wire.answer_text(candidate) or ""
        calls = []
        for call in gemini_wire.function_calls(candidate):
            calls.append(ToolCallDelta(self.calls, call.id, call.name, call.arguments))
            self.calls += 1
        # usageMetadata comes on every chunk and counts the answer so far (thinking included):
        # passed on, it is what a stream cut short here has cost.
        return [Delta(text, tuple(calls), self.usage)] if text or calls else []

    def close(self) -> list:
        """No [DONE] in Gemini's streams: a finishReason is what says the answer is whole."""
        if self.finish is None:
            raise Unavailable("the stream ended before a finishReason", status=200)
        finish = gemini_wire.finish_reason(
            self.finish, called=self.calls > 0, blocked=gemini_wire.BLOCKED
        )
        return [StreamEnd(finish, self.usage, self.model, self.id)]
