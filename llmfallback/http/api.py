"""REST API for agents: chat, health, provider reset."""

from __future__ import annotations

import math

from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import APIView

from congress.authority import actor_of
from d8site.api.serializers import StrictSerializer
from llmfallback import selectors, services
from llmfallback.access.agent_keys import IsOperator
from llmfallback.access.limits import LimitExceeded, ProviderNotAllowed
from llmfallback.core.errors import AllProvidersFailed, CallerError, RequestUnsendable
from llmfallback.http import chat_input, timeouts
from llmfallback.http import services as agent_services
from llmfallback.ops import cache
from llmfallback.providers.openai_input import InvalidRequest


class MessageSerializer(StrictSerializer):
    role = serializers.ChoiceField(choices=list(chat_input.ROLES))
    content = serializers.CharField(
        allow_blank=False, trim_whitespace=False, max_length=chat_input.MAX_CONTENT
    )


def attempts_out(attempts) -> list[dict]:
    return [
        {
            "provider": a.provider,
            "key": a.key,
            "error_type": a.error_type,
            "status": a.status,
            "latency_ms": round(a.latency_ms, 1),
        }
        for a in attempts
    ]


class ChatApi(APIView):
    class InputSerializer(StrictSerializer):
        # The bounds and defaults live in chat_input, which checks plainly valid bodies by them.
        messages = MessageSerializer(
            many=True, allow_empty=False, max_length=chat_input.MAX_MESSAGES
        )
        temperature = serializers.FloatField(
            required=False,
            default=chat_input.DEFAULT_TEMPERATURE,
            min_value=0,
            max_value=chat_input.MAX_TEMPERATURE,
        )
        max_tokens = serializers.IntegerField(
            required=False,
            default=chat_input.DEFAULT_MAX_TOKENS,
            min_value=1,
            max_value=chat_input.MAX_TOKENS,
        )
        json_mode = serializers.BooleanField(required=False, default=False)
        context = serializers.CharField(
            required=False, default="", allow_blank=True, max_length=chat_input.MAX_CONTEXT
        )
        cache = serializers.BooleanField(
            required=False,
            allow_null=True,
            default=None,
            help_text="true: answer from the response cache when it can (X-D8-Cache: use says "
            "the same); false: bypass it. Left out: the server's configuration decides.",
        )
        # Accepted only as false: clients that stream by default must learn it is not done here.
        stream = serializers.BooleanField(
            required=False, default=False, help_text="Only false: this endpoint does not stream."
        )

        def validate_messages(self, messages):
            if not any(m["role"] == "user" for m in messages):
                raise serializers.ValidationError("At least one message must have the role 'user'.")
            return messages

        def validate_stream(self, stream):
            if stream:
                raise serializers.ValidationError(
                    'Streaming is not supported on this endpoint; send "stream": false or leave it out.'
                )
            return stream

    def post(self, request):
        try:
            validated = self._validated(request)
        except APIException:  # unreadable or invalid: still one of the agent's requests
            agent_services.agent_request_refused(agent=request.user)
            raise
        chat_request = services.chat_request_build(data=validated)
        try:
            shorter = timeouts.requested(request.META)
        except InvalidRequest as e:
            return Response({"detail": e.message}, status=status.HTTP_400_BAD_REQUEST)
        try:
            with services.deadline_shortened(shorter):
                result = agent_services.agent_chat(
                    agent=request.user,
                    request=chat_request,
                    cache=cache.wanted(request.headers, validated["cache"]),
                )
        except LimitExceeded as e:
            return _over_limit(e)
        except ProviderNotAllowed as e:
            return Response({"detail": str(e)}, status=status.HTTP_403_FORBIDDEN)
        except CallerError as e:
            return self._caller_error(e)
        except AllProvidersFailed as e:
            return self._all_failed(e)
        except RequestUnsendable as e:  # no provider was called
            status_ = 400 if e.caller_fault else 500
            detail = e.message if e.caller_fault else "The gateway could not build the request."
            return Response({"detail": detail}, status=status_)
        return Response(
            {
                "content": result.content,
                "provider": result.provider,
                "model": result.model,
                "usage": {
                    "prompt_tokens": result.usage.prompt_tokens,
                    "completion_tokens": result.usage.completion_tokens,
                    "total_tokens": result.usage.total_tokens,
                },
                "attempts": attempts_out(result.attempts),
                "escalated_to_congress": False,
            }
            | cache.cached_out(result)
        )

    def _validated(self, request) -> dict:
        validated = chat_input.plainly_valid(request.data)
        if validated is None:  # the serializer decides, and words the 400
            data = self.InputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            validated = data.validated_data
        return validated

    def _caller_error(self, e: CallerError) -> Response:
        body = {
            "detail": _refusal_detail(e),
            "error_type": e.error.kind.value,
            "provider": e.attempts[-1].provider if e.attempts else None,
            "refusals": [
                {
                    "provider": name,
                    "error_type": err.kind.value,
                    "status": err.status,
                    "reason": err.message,
                }
                for name, err in e.refusals
            ],
            "attempts": attempts_out(e.attempts),
        }
        return Response(body, status=e.http_status)

    def _all_failed(self, e: AllProvidersFailed) -> Response:
        body = {
            "content": None,
            "provider": "failed",
            "detail": e.reason,
            "retry_after_s": None if e.retry_after is None else round(e.retry_after, 1),
            "attempts": attempts_out(e.attempts),
            "escalated_to_congress": False,
        }
        if getattr(e, "escalation", None):  # set by services.llm_chat when the Congress took it
            body |= e.escalation.as_dict()
        # No Retry-After when no provider can say when it will be back (all disabled or
        # unavailable until an operator acts): a made-up figure would only mislead retries.
        headers = (
            {} if e.retry_after is None else {"Retry-After": str(max(1, math.ceil(e.retry_after)))}
        )
        return Response(body, status=status.HTTP_503_SERVICE_UNAVAILABLE, headers=headers)


def _over_limit(e: LimitExceeded) -> Response:
    wait = max(1, math.ceil(e.retry_after))
    body = {"detail": e.message, "error_type": f"{e.kind}_limit", "retry_after_s": wait}
    return Response(
        body, status=status.HTTP_429_TOO_MANY_REQUESTS, headers={"Retry-After": str(wait)}
    )


def _refusal_detail(e: CallerError) -> str:
    """The provider's explanation, or each provider's reason when every one refused."""
    if not e.refusals:
        return e.error.message
    reasons = "; ".join(f"{name}: {err.message}" for name, err in e.refusals)
    return f"every provider refused this request ({reasons})"


class HealthApi(APIView):
    def get(self, request):
        return Response(selectors.health_report(viewer=request.user))


class ProviderResetApi(APIView):
    permission_classes = [IsOperator]

    def post(self, request, name: str):
        if name not in selectors.provider_names():
            return Response(
                {"detail": f"Unknown provider '{name}'."}, status=status.HTTP_404_NOT_FOUND
            )
        changed = services.provider_cooldown_reset(name=name, by=actor_of(request.user).name)
        return Response({"provider": name, "reset": True, "changed": changed})
