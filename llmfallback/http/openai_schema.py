"""The /v1 operations for the OpenAPI schema (/api/schema). These serializers only describe
bodies: openai_input.py reads requests and openai_out.py builds answers.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers

from . import openai


class V1Message(serializers.Serializer):
    role = serializers.ChoiceField(["system", "developer", "user", "assistant", "tool"])
    content = serializers.JSONField(
        help_text="A string, or an array of text parts.", allow_null=True
    )
    tool_calls = serializers.ListField(child=serializers.DictField(), required=False)
    tool_call_id = serializers.CharField(required=False)
    name = serializers.CharField(required=False)


class V1ChatInput(serializers.Serializer):
    model = serializers.CharField(
        help_text='"auto" (the default route or the configured chain), a named route '
        '(LLM_ROUTES), a provider name (preferred, then the chain) or "provider/model" (that '
        "provider alone). GET /v1/models lists them."
    )
    messages = V1Message(many=True)
    tools = serializers.ListField(child=serializers.DictField(), required=False)
    tool_choice = serializers.JSONField(required=False)
    parallel_tool_calls = serializers.BooleanField(required=False)
    response_format = serializers.DictField(
        required=False, help_text="text, json_object or json_schema (translated for Gemini)."
    )
    temperature = serializers.FloatField(required=False, min_value=0, max_value=2)
    top_p = serializers.FloatField(required=False, min_value=0, max_value=1)
    max_tokens = serializers.IntegerField(required=False, min_value=1)
    max_completion_tokens = serializers.IntegerField(required=False, min_value=1)
    stop = serializers.JSONField(required=False, help_text="A string or up to 4 strings.")
    seed = serializers.IntegerField(required=False)
    presence_penalty = serializers.FloatField(required=False)
    frequency_penalty = serializers.FloatField(required=False)
    user = serializers.CharField(required=False)
    n = serializers.IntegerField(required=False, help_text="Only 1.")
    stream = serializers.BooleanField(
        required=False,
        help_text="true: Server-Sent Events of chat.completion.chunk, ending in [DONE]; a "
        "provider failing after the first token ends it with an error event instead.",
    )
    stream_options = serializers.DictField(
        required=False, help_text="include_usage: a last chunk with usage and empty choices."
    )


class V1Usage(serializers.Serializer):
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()


class V1Choice(serializers.Serializer):
    index = serializers.IntegerField()
    message = serializers.DictField(help_text="role, content (null with tool_calls), tool_calls.")
    finish_reason = serializers.ChoiceField(["stop", "length", "tool_calls", "content_filter"])


class V1Completion(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField(help_text='"chat.completion"')
    created = serializers.IntegerField()
    model = serializers.CharField(help_text="provider/model that answered.")
    choices = V1Choice(many=True)
    usage = V1Usage()
    x_d8 = serializers.DictField(help_text="provider and attempts (with skipped providers).")


class V1ErrorDetail(serializers.Serializer):
    message = serializers.CharField()
    type = serializers.CharField()
    param = serializers.CharField(allow_null=True)
    code = serializers.CharField(allow_null=True)


class V1Error(serializers.Serializer):
    error = V1ErrorDetail()


class V1Model(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField()
    created = serializers.IntegerField()
    owned_by = serializers.CharField()


class V1ModelList(serializers.Serializer):
    object = serializers.CharField()
    data = V1Model(many=True)


def _err(description: str) -> OpenApiResponse:
    return OpenApiResponse(V1Error, description=description)


# Every /v1 answer that is not a 200 is in OpenAI's envelope, framework errors included.
EVERY_OPERATION = {
    401: _err("No agent key, or an unknown or revoked one. /v1 takes agent keys only."),
    405: _err("Method not allowed."),
    406: _err("The Accept header allows no JSON."),
}
ERRORS = {
    **EVERY_OPERATION,
    400: _err("Malformed or unsupported input (n > 1, images...); `param` names it."),
    403: _err("The agent key may not use the provider `model` names."),
    404: _err("Unknown model (code model_not_found)."),
    413: _err("Body too large, or the request too large for every provider."),
    415: _err("Request body not application/json."),
    429: _err("Over the agent key's limit; Retry-After says when it resets."),
    503: _err("No provider could answer; Retry-After says when one may."),
}

ChatCompletionsApi = extend_schema_view(
    post=extend_schema(
        summary="OpenAI-compatible chat completions, with fallback across providers",
        operation_id="v1_chat_completions_create",
        tags=["v1"],
        request=V1ChatInput,
        responses={200: V1Completion, **ERRORS},
    )
)(openai.ChatCompletionsApi)

ModelsApi = extend_schema_view(
    get=extend_schema(
        summary="The routes `model` may name",
        operation_id="v1_models_list",
        tags=["v1"],
        responses={200: V1ModelList, **EVERY_OPERATION},
    )
)(openai.ModelsApi)

ModelApi = extend_schema_view(
    get=extend_schema(
        summary="One route",
        operation_id="v1_models_retrieve",
        tags=["v1"],
        responses={200: V1Model, 404: _err("Unknown model."), **EVERY_OPERATION},
        parameters=[],
    )
)(openai.ModelApi)

__all__ = ["ChatCompletionsApi", "ModelApi", "ModelsApi"]
