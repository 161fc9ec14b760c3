"""OpenAI's chat.completion.chunk stream (Groq, DeepSeek, vLLM, Ollama, llama.cpp).

Each event is a chunk whose choices[0].delta carries text or tool-call pieces (the first piece of
a call has id and name, later ones more arguments); the finish_reason comes on a chunk of its
own, usage on the last chunk (stream_options.include_usage; Groq also in x_groq.usage), then
`data: [DONE]`. Groq reports failures inside the 200 stream as `data: {"error": {...}}`.
https://platform.openai.com/docs/api-reference/chat-streaming, vercel/ai packages/groq
__fixtures__/groq-text.chunks.txt and groq-tool-call.chunks.txt (captured bytes).
"""

from __future__ import annotations

import json

from llmfallback.core.errors import Unavailable
from llmfallback.core.stream_events import Delta, StreamEnd, ToolCallDelta
from llmfallback.core.types import Usage

from .openai_wire import error_fields, json_object, message_text, usage_of
from .shapes import as_count, as_dict, as_list, as_str, as_text, first_dict


class OpenAIStream:
    """Turns the `data:` of each event into Delta / StreamEnd; raises ProviderError subclasses."""

    def __init__(self, model: str) -> None:
        self.model, self.id = model, ""
        self.finish: str | None = None
        self.usage: Usage | None = None
        self.done = False

    def feed(self, data: str) -> list:
        if self.done:
            return []  # nothing after [DONE] belongs to the answer
        if data.strip() == "[DONE]":
            return self._end()
        chunk = json_object(data)
        if chunk.get("error"):
            message, code, _ = error_fields(chunk) or (as_text(chunk["error"]), None, "")
            raise Unavailable(f"error in stream: {message}", status=200, code=code)
        self.id = self.id or as_str(chunk.get("id")) or ""
        self.model = as_str(chunk.get("model")) or self.model
        usage = chunk.get("usage") or as_dict(chunk.get("x_groq")).get("usage")
        if isinstance(usage, dict):
            self.usage = usage_of({"usage": usage})
        choice = first_dict(chunk.get("choices"))
        if choice is None:
            return []
        self.finish = as_str(choice.get("finish_reason")) or self.finish
        delta = as_dict(choice.get("delta"))
        text = message_text(delta.get("content")) or ""
        calls = tuple(
            _tool_call(item, n)
            for n, item in enumerate(as_list(delta.get("tool_calls")))
            if isinstance(item, dict)
        )
        return [Delta(text, calls)] if text or calls else []

    def close(self) -> list:
        """The body ended. Without [DONE] the answer is whole only if a finish_reason came."""
        if self.done:
            return []
        if self.finish is None:
            raise Unavailable("the stream ended before [DONE]", status=200)
        return self._end()

    def _end(self) -> list:
        self.done = True
        return [StreamEnd(self.finish, self.usage, self.model, self.id)]


def _tool_call(item: dict, position: int) -> ToolCallDelta:
    function = as_dict(item.get("function"))
    arguments = function.get("arguments")
    if isinstance(arguments, dict):  # some servers send the object itself
        arguments = json.dumps(arguments)
    return ToolCallDelta(
        index=as_count(item["index"]) if "index" in item else position,
        id=as_str(item.get("id")),
        name=as_str(function.get("name")),
        arguments=arguments if isinstance(arguments, str) else "",
    )
