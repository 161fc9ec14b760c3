"""REST API: the escalations to the Congress."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from congress.authority import Action, actor_of, may
from llmfallback.escalation.report import escalation_document_redacted, escalation_out, timeline_out
from llmfallback.models import Escalation

LIST_LIMIT = 100

ESCALATION = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="One escalation; see docs/congress.md. The triggering messages, context, provider "
    "snapshot, error history and timeline details are shown to operator keys and staff only; "
    "agent keys see its metadata and the timeline's kinds.",
)


class EscalationListOut(serializers.Serializer):
    results = serializers.ListField(child=serializers.DictField(), help_text="Newest first.")


class EscalationListApi(APIView):
    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=Escalation.Status.values, required=False)

    @extend_schema(
        operation_id="llm_escalations_list",
        summary="The escalations to the Congress, newest first",
        parameters=[FilterSerializer],
        responses={200: EscalationListOut},
    )
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        rows = Escalation.objects.select_related("proposal")
        if "status" in filters.validated_data:
            rows = rows.filter(status=filters.validated_data["status"])
        return Response({"results": [escalation_out(e) for e in rows[:LIST_LIMIT]]})


class EscalationDetailApi(APIView):
    class PageSerializer(serializers.Serializer):
        timeline_offset = serializers.IntegerField(
            min_value=0,
            max_value=10**9,  # a hostile offset is a 400, never a database error
            default=0,
            help_text="The first timeline event to return; each answer holds at most 100, and "
            "`timeline_next_offset` names the next page (null on the last).",
        )

    @extend_schema(
        operation_id="llm_escalation_read",
        summary="One escalation with a page of its timeline",
        parameters=[PageSerializer],
        responses={200: ESCALATION},
    )
    def get(self, request, pk: int):
        page = self.PageSerializer(data=request.query_params)
        page.is_valid(raise_exception=True)
        offset = page.validated_data["timeline_offset"]
        escalation = get_object_or_404(Escalation.objects.select_related("proposal"), pk=pk)
        if may(actor_of(request.user), Action.ESCALATION_DETAIL):
            return Response(escalation_out(escalation, detail=True, timeline_offset=offset))
        return Response(escalation_metadata(escalation, timeline_offset=offset))


class EscalationDocumentApi(APIView):
    @extend_schema(
        operation_id="llm_escalation_document",
        summary="The escalation's document, as its JSON file says it, whichever host answers",
        description="Built from the database, so every host serves it; `file_host` in the "
        "escalation names the host whose LLM_DATA_DIR holds the file, a copy. Operator keys "
        "and staff only: it holds the triggering messages.",
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT), 403: OpenApiResponse()},
    )
    def get(self, request, pk: int):
        escalation = get_object_or_404(Escalation.objects.select_related("proposal"), pk=pk)
        if not may(actor_of(request.user), Action.ESCALATION_DETAIL):
            raise PermissionDenied(
                "Only operator keys and staff may read an escalation's document."
            )
        return Response(escalation_document_redacted(escalation))


def escalation_metadata(escalation: Escalation, *, timeline_offset: int = 0) -> dict:
    """What any agent may read: the triggering messages are other agents' prompts.

    Built from the list's fields plus the timeline's kinds, counts and times (an allow-list): a
    field added to the detail later stays hidden from agents until someone decides otherwise here.
    """
    return escalation_out(escalation) | timeline_out(
        escalation, offset=timeline_offset, detail=False
    )
