"""Operator keys and staff move providers over HTTP as they do on the dashboard: enable,
disable, up, down (POST /api/llm/providers/<name>/<action>). Each change is audited."""

from __future__ import annotations

from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from congress.authority import actor_of
from d8site.api.serializers import StrictSerializer
from llmfallback import selectors, services
from llmfallback.access.agent_keys import IsOperator
from llmfallback.models import ProviderHealth

ACTIONS = {
    "enable": lambda name, by: services.provider_enable(name=name, by=by),
    "disable": lambda name, by: services.provider_disable(name=name, by=by),
    "up": lambda name, by: services.provider_move(name=name, direction="up", by=by),
    "down": lambda name, by: services.provider_move(name=name, direction="down", by=by),
}


class ProviderActionApi(APIView):
    permission_classes = [IsOperator]

    class InputSerializer(StrictSerializer):
        confirm_last = serializers.BooleanField(
            default=False,
            help_text="Needed to disable the last enabled provider: every chat then gets 503.",
        )

    def post(self, request, name: str, action: str):
        if name not in selectors.provider_names():
            return Response(
                {"detail": f"Unknown provider '{name}'."}, status=status.HTTP_404_NOT_FOUND
            )
        body = self.InputSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        last = action == "disable" and services.provider_is_last_enabled(name)
        if last and not body.validated_data["confirm_last"]:
            detail = (
                f"'{name}' is the last enabled provider: disabling it answers every chat request "
                'with 503. Send {"confirm_last": true} to disable it anyway.'
            )
            return Response({"detail": detail}, status=status.HTTP_409_CONFLICT)
        changed = ACTIONS[action](name, actor_of(request.user).name)
        return Response({"provider": name, "action": action, "changed": changed} | _state())


def _state() -> dict:
    rows = ProviderHealth.objects.order_by("priority", "name")
    return {
        "order": [r.name for r in rows],
        "enabled": [r.name for r in rows if r.is_enabled],
    }
