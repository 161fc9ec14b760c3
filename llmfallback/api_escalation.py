"""REST API: the escalations to the Congress."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from .escalation.report import escalation_out
from .models import Escalation

LIST_LIMIT = 100


class EscalationListApi(APIView):
    def get(self, request):
        rows = Escalation.objects.select_related("proposal")
        if request.query_params.get("status"):
            rows = rows.filter(status=request.query_params["status"])
        return Response({"results": [escalation_out(e) for e in rows[:LIST_LIMIT]]})


class EscalationDetailApi(APIView):
    def get(self, request, pk: int):
        escalation = get_object_or_404(Escalation.objects.select_related("proposal"), pk=pk)
        return Response(escalation_out(escalation, detail=True))
