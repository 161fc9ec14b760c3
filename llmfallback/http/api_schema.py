"""What the chat, health and reset endpoints answer, for the OpenAPI schema (/api/schema).

The serializers here only describe bodies; api.py builds them. The shared errors (401, 405, 413,
...) are added to every operation by d8site.api.schema.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import serializers

from llmfallback.http import api, api_providers


class AgentKeyScheme(OpenApiAuthenticationExtension):
    """Agent keys are bearer tokens (llmfallback.access.agent_keys)."""

    target_class = "llmfallback.access.agent_keys.AgentKeyAuthentication"
    name = "agentKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An agent key: d8_..."}


class AttemptOut(serializers.Serializer):
    provider = serializers.CharField()
    key = serializers.CharField(
        allow_null=True, help_text="The key's label (k1, k2...), never the key."
    )
    error_type = serializers.CharField(
        allow_null=True, help_text="null for the call that answered."
    )
    status = serializers.IntegerField(allow_null=True, help_text="HTTP status, null without one.")
    latency_ms = serializers.FloatField()


class UsageOut(serializers.Serializer):
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()


class ChatOut(serializers.Serializer):
    content = serializers.CharField()
    provider = serializers.CharField(help_text="The provider that answered.")
    model = serializers.CharField()
    usage = UsageOut()
    attempts = AttemptOut(many=True, help_text="Every call made, in order.")
    escalated_to_congress = serializers.BooleanField()


class ChatCallerErrorOut(serializers.Serializer):
    detail = serializers.CharField()
    error_type = serializers.CharField(required=False)
    provider = serializers.CharField(allow_null=True, required=False)
    attempts = AttemptOut(many=True, required=False)


class ChatFailedOut(serializers.Serializer):
    content = serializers.CharField(allow_null=True)
    provider = serializers.CharField(help_text='Always "failed".')
    detail = serializers.CharField()
    retry_after_s = serializers.FloatField(help_text="Also sent as the Retry-After header.")
    attempts = AttemptOut(many=True)
    escalated_to_congress = serializers.BooleanField()
    escalation_id = serializers.IntegerField(required=False)
    escalation_number = serializers.IntegerField(required=False)
    proposal_id = serializers.IntegerField(required=False, allow_null=True)
    proposal_code = serializers.CharField(required=False, allow_null=True)


class ResetOut(serializers.Serializer):
    provider = serializers.CharField()
    reset = serializers.BooleanField()
    changed = serializers.BooleanField(help_text="False when the provider was not blocked.")


extend_schema_serializer(component_name="ChatInput")(api.ChatApi.InputSerializer)
extend_schema_serializer(component_name="ChatMessage")(api.MessageSerializer)

ChatApi = extend_schema_view(
    post=extend_schema(
        summary="Chat through the first provider that answers",
        request=api.ChatApi.InputSerializer,
        responses={
            200: ChatOut,
            400: OpenApiResponse(
                ChatCallerErrorOut,
                description="Invalid input (field errors), or a provider refused the request "
                "itself (error_type bad_request).",
            ),
            413: OpenApiResponse(
                ChatCallerErrorOut,
                description="Body over LLM_MAX_BODY_BYTES, or a request too large for every provider.",
            ),
            503: OpenApiResponse(ChatFailedOut, description="No provider could answer."),
        },
    )
)(api.ChatApi)

HealthApi = extend_schema_view(
    get=extend_schema(
        summary="Every provider's state and the recent errors",
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT, description="See docs/api.md, GET /api/llm/health."
            )
        },
    )
)(api.HealthApi)

ProviderResetApi = extend_schema_view(
    post=extend_schema(
        summary="Clear a provider's cooldown (operator keys and staff)",
        request=None,
        responses={200: ResetOut},
    )
)(api.ProviderResetApi)


class ProviderActionOut(serializers.Serializer):
    provider = serializers.CharField()
    action = serializers.ChoiceField(choices=["enable", "disable", "up", "down"])
    changed = serializers.BooleanField(help_text="False when the provider was already so.")
    order = serializers.ListField(child=serializers.CharField(), help_text="The priority order.")
    enabled = serializers.ListField(child=serializers.CharField())


ProviderActionApi = extend_schema_view(
    post=extend_schema(
        summary="Enable, disable or move a provider (operator keys and staff)",
        parameters=[
            OpenApiParameter(
                "action",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                enum=["enable", "disable", "up", "down"],
                description="up is tried earlier, down later.",
            )
        ],
        request=api_providers.ProviderActionApi.InputSerializer,
        responses={
            200: ProviderActionOut,
            409: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="Disabling the last enabled provider without confirm_last.",
            ),
        },
    )
)(api_providers.ProviderActionApi)
