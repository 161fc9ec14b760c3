"""/v1/messages and /v1/responses in the OpenAPI schema (/api/schema). These serializers only
describe bodies: anthropic_input and responses_input read requests, anthropic_out and
responses_out build answers, and the plain views (anthropic.py, responses.py) serve every call.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from llmfallback.access.agent_keys import AgentKeyAuthentication

from . import anthropic, openai_schema, responses

# --- POST /v1/messages and /v1/messages/count_tokens (Anthropic's shapes) -------------------


class AnthropicErrorDetail(serializers.Serializer):
    type = serializers.CharField()
    message = serializers.CharField()


class AnthropicError(serializers.Serializer):
    type = serializers.CharField(help_text='"error"')
    error = AnthropicErrorDetail()


class MessagesInput(serializers.Serializer):
    model = serializers.CharField(help_text="Routed as /v1/chat/completions' `model`.")
    max_tokens = serializers.IntegerField(min_value=1)
    messages = serializers.ListField(
        child=serializers.DictField(),
        help_text="user/assistant turns: a string, or text, tool_use and tool_result blocks.",
    )
    system = serializers.JSONField(required=False, help_text="A string or text blocks.")
    tools = serializers.ListField(child=serializers.DictField(), required=False)
    tool_choice = serializers.DictField(required=False)
    stop_sequences = serializers.ListField(child=serializers.CharField(), required=False)
    temperature = serializers.FloatField(required=False, min_value=0, max_value=1)
    top_p = serializers.FloatField(required=False, min_value=0, max_value=1)
    stream = serializers.BooleanField(
        required=False,
        help_text="true: Anthropic's events, message_start ... message_stop; a provider failing "
        "after the first token ends them with an error event.",
    )


class AnthropicUsage(serializers.Serializer):
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()


class AnthropicMessage(serializers.Serializer):
    id = serializers.CharField()
    type = serializers.CharField(help_text='"message"')
    role = serializers.CharField()
    model = serializers.CharField(help_text="provider/model that answered.")
    content = serializers.ListField(child=serializers.DictField(), help_text="text, tool_use.")
    stop_reason = serializers.CharField()
    stop_sequence = serializers.CharField(allow_null=True)
    usage = AnthropicUsage()
    x_d8 = serializers.DictField(help_text="provider and attempts.")


class TokenCount(serializers.Serializer):
    input_tokens = serializers.IntegerField()
    x_d8 = serializers.DictField(help_text="estimated: true, and how.")


def _anthropic_err(description: str) -> OpenApiResponse:
    return OpenApiResponse(AnthropicError, description=description)


ANTHROPIC_INPUT_ERRORS = {
    400: _anthropic_err("Malformed or unsupported input (images, server tools...)."),
    401: _anthropic_err("No agent key (x-api-key or Bearer), or an unknown or revoked one."),
    405: _anthropic_err("Method not allowed."),
    413: _anthropic_err("Body too large, or the request too large for every provider."),
    415: _anthropic_err("Request body not application/json."),
}
ANTHROPIC_ERRORS = {
    **ANTHROPIC_INPUT_ERRORS,
    403: _anthropic_err("The agent key may not use the provider or route `model` names."),
    404: _anthropic_err("Unknown model."),
    429: _anthropic_err("Over the agent key's limit; Retry-After says when it resets."),
    503: _anthropic_err("No provider could answer (overloaded_error); Retry-After when known."),
}


class MessagesApi(APIView):
    authentication_classes = [AgentKeyAuthentication]

    @extend_schema(
        summary="Anthropic Messages, with fallback across providers",
        operation_id="v1_messages_create",
        tags=["v1"],
        request=MessagesInput,
        responses={200: AnthropicMessage, **ANTHROPIC_ERRORS},
    )
    def post(self, request):
        return anthropic.messages(request._request)


class CountTokensApi(APIView):
    authentication_classes = [AgentKeyAuthentication]

    @extend_schema(
        summary="A local estimate of a Messages request's input tokens (no provider is called)",
        operation_id="v1_messages_count_tokens_create",
        tags=["v1"],
        request=MessagesInput,
        responses={200: TokenCount, **ANTHROPIC_INPUT_ERRORS},
    )
    def post(self, request):
        return anthropic.count_tokens(request._request)


# --- POST /v1/responses (OpenAI's shapes) ----------------------------------------------------


class ResponsesInput(serializers.Serializer):
    model = serializers.CharField(help_text="Routed as /v1/chat/completions' `model`.")
    input = serializers.JSONField(
        help_text="A string, or items: messages, function_call and function_call_output."
    )
    instructions = serializers.CharField(required=False)
    tools = serializers.ListField(child=serializers.DictField(), required=False)
    tool_choice = serializers.JSONField(required=False)
    text = serializers.DictField(
        required=False, help_text="format: text, json_object, json_schema."
    )
    max_output_tokens = serializers.IntegerField(required=False, min_value=1)
    temperature = serializers.FloatField(required=False, min_value=0, max_value=2)
    top_p = serializers.FloatField(required=False, min_value=0, max_value=1)
    store = serializers.BooleanField(required=False, help_text="Always false: nothing is kept.")
    stream = serializers.BooleanField(
        required=False,
        help_text="true: response.created ... response.completed; a provider failing after the "
        "first output ends it with an error event and response.failed.",
    )


class ResponseObject(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField(help_text='"response"')
    created_at = serializers.IntegerField()
    status = serializers.CharField(help_text="completed, or incomplete.")
    model = serializers.CharField(help_text="provider/model that answered.")
    output = serializers.ListField(
        child=serializers.DictField(), help_text="message, function_call."
    )
    usage = serializers.DictField()
    store = serializers.BooleanField()
    x_d8 = serializers.DictField(help_text="provider and attempts.")


class ResponsesApi(APIView):
    authentication_classes = [AgentKeyAuthentication]

    @extend_schema(
        summary="OpenAI Responses (stateless), with fallback across providers",
        operation_id="v1_responses_create",
        tags=["v1"],
        request=ResponsesInput,
        responses={200: ResponseObject, **openai_schema.ERRORS},
    )
    def post(self, request):
        return responses.responses(request._request)


def documented(view, api: type[APIView]):
    """`view` (a plain function serving every call) described in the schema by `api`."""
    view.cls, view.initkwargs = api, {}
    return view
