from django.urls import path, re_path

from llmfallback.ops.tracing import server

from . import anthropic, chat, openai, openai_schema, responses
from .protocols_schema import CountTokensApi, MessagesApi, ResponsesApi, documented

urlpatterns = [
    # The chat faces, each request in a server span while tracing is on (ops/tracing.py).
    path(
        "v1/chat/completions", server(chat.chat_completions, "/v1/chat/completions"), name="v1-chat"
    ),
    path(
        "v1/messages",
        documented(server(anthropic.messages, "/v1/messages"), MessagesApi),
        name="v1-messages",
    ),
    path(
        "v1/messages/count_tokens",
        documented(anthropic.count_tokens, CountTokensApi),
        name="v1-count-tokens",
    ),
    path(
        "v1/responses",
        documented(server(responses.responses, "/v1/responses"), ResponsesApi),
        name="v1-responses",
    ),
    path("v1/models", openai_schema.ModelsApi.as_view(), name="v1-models"),
    path("v1/models/<path:model>", openai_schema.ModelApi.as_view(), name="v1-model"),
    re_path(r"^v1/", openai.unknown_url),  # an OpenAI-shaped 404 for the rest of /v1/
]
