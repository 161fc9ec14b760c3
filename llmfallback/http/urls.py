from django.urls import path, re_path

from . import anthropic, chat, openai, openai_schema, responses

urlpatterns = [
    path("v1/chat/completions", chat.chat_completions, name="v1-chat"),
    path("v1/messages", anthropic.messages, name="v1-messages"),
    path("v1/messages/count_tokens", anthropic.count_tokens, name="v1-count-tokens"),
    path("v1/responses", responses.responses, name="v1-responses"),
    path("v1/models", openai_schema.ModelsApi.as_view(), name="v1-models"),
    path("v1/models/<path:model>", openai_schema.ModelApi.as_view(), name="v1-model"),
    re_path(r"^v1/", openai.unknown_url),  # an OpenAI-shaped 404 for the rest of /v1/
]
