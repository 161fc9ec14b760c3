"""REST API for agents and people: proposals, votes, status changes."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from d8site.api.serializers import JSONObjectField, StrictSerializer

from . import remedies, selectors, services, votes
from .authority import Action, actor_of, may
from .lifecycle import IllegalTransition, Status
from .models import RULE_LABELS, Category, Proposal
from .voting import Choice, Rule

# The proposal statuses as the model lists them, so the schema names the set once.
MAX_VOTERS = 1_000_000

STATUS_CHOICES = [(s.value, s.value) for s in Status]


def _refused(error: Exception, field: str | None = None) -> Response:
    """A 400 naming why the Congress refused the input (and which field, where one is at fault)."""
    body = {"detail": str(error)} | ({field: [str(error)]} if field else {})
    return Response(body, status=status.HTTP_400_BAD_REQUEST)


class ProposalOutput(serializers.ModelSerializer):
    class Meta:
        model = Proposal
        exclude = ["id"]


class VoteOut(serializers.Serializer):
    voter = serializers.CharField()
    choice = serializers.CharField()
    weight = serializers.FloatField()
    reason = serializers.CharField(allow_blank=True)
    updated_at = serializers.DateTimeField()


class ProposalDetailOutput(ProposalOutput):
    """For the schema: what proposal_out(detail=True) adds."""

    tally = serializers.DictField(help_text="The running count under the proposal's voting rule.")
    votes = VoteOut(many=True)

    class Meta(ProposalOutput.Meta):
        pass


class ProposalListOutput(serializers.Serializer):
    results = ProposalOutput(many=True)


CONFLICT = OpenApiResponse(description="The proposal's state does not allow it (detail says why).")


def proposal_out(proposal: Proposal, *, detail: bool = False) -> dict:
    data = ProposalOutput(proposal).data
    if detail:
        data["tally"] = selectors.proposal_tally(proposal).as_dict()
        data["votes"] = [
            {
                "voter": v.voter,
                "choice": v.choice,
                "weight": v.weight,
                "reason": v.reason,
                "updated_at": v.updated_at.isoformat(),
            }
            for v in proposal.votes.all()
        ]
    return data


class ProposalListApi(APIView):
    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=STATUS_CHOICES, required=False)
        category = serializers.ChoiceField(choices=Category.choices, required=False)
        priority = serializers.IntegerField(min_value=1, max_value=5, required=False)

    @extend_schema_serializer(component_name="ProposalInput")
    class InputSerializer(StrictSerializer):
        title = serializers.CharField(max_length=200)
        description = serializers.CharField(required=False, allow_blank=True, default="")
        category = serializers.ChoiceField(choices=Category.choices, default=Category.TECHNICAL)
        priority = serializers.IntegerField(min_value=1, max_value=5, default=3)
        tags = serializers.ListField(
            child=serializers.CharField(max_length=50), required=False, default=list
        )
        metadata = JSONObjectField(required=False, default=dict)
        remedy = serializers.CharField(required=False, allow_blank=True, default="")
        remedy_args = JSONObjectField(required=False, default=dict)
        voting_rule = serializers.ChoiceField(
            choices=[(r.value, RULE_LABELS[r]) for r in Rule], default=Rule.SIMPLE
        )
        # Bounded: a number past the database column is an overflow (a 500), not a choice.
        quorum = serializers.IntegerField(
            min_value=0,
            max_value=MAX_VOTERS,
            required=False,
            allow_null=True,
            default=None,
            help_text="Non-abstaining voters needed (default 1; with a remedy, the bound "
            "CONGRESS_REMEDY_MIN_VOTERS, and never less).",
        )
        electorate = serializers.IntegerField(
            min_value=1, max_value=MAX_VOTERS, required=False, allow_null=True, default=None
        )
        voting_deadline = serializers.DateTimeField(required=False, allow_null=True, default=None)
        open_voting = serializers.BooleanField(default=False)

        def validate_remedy(self, value):
            if value and value not in remedies.names():
                raise serializers.ValidationError(
                    f"Unknown remedy; one of: {', '.join(remedies.names())}."
                )
            return value

    @extend_schema(
        operation_id="congress_proposals_list",
        summary="List proposals (newest first, at most 200)",
        parameters=[FilterSerializer],
        responses={200: ProposalListOutput},
    )
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        proposals = selectors.proposal_list(**filters.validated_data)[:200]
        return Response({"results": [proposal_out(p) for p in proposals]})

    @extend_schema(
        operation_id="congress_proposals_create",
        summary="File a proposal",
        request=InputSerializer,
        responses={201: ProposalDetailOutput},
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            proposal = services.proposal_create(
                proposed_by=actor_of(request.user), **data.validated_data
            )
        except remedies.InvalidRemedy as e:
            return _refused(e, "remedy_args")
        except services.RemedyBounds as e:
            return _refused(e)
        return Response(proposal_out(proposal, detail=True), status=status.HTTP_201_CREATED)


class ProposalDetailApi(APIView):
    @extend_schema(
        operation_id="congress_proposal_read",
        summary="A proposal with its tally and votes",
        responses={200: ProposalDetailOutput},
    )
    def get(self, request, code: str):
        proposal = get_object_or_404(Proposal, code=code)
        proposal = votes.proposal_close_if_due(
            proposal=proposal
        )  # the deadline is checked on read too
        return Response(proposal_out(proposal, detail=True))


class VoteApi(APIView):
    @extend_schema_serializer(component_name="VoteInput")
    class InputSerializer(StrictSerializer):
        choice = serializers.ChoiceField(choices=[c.value for c in Choice])
        weight = serializers.FloatField(
            required=False, write_only=True, help_text="Refused: staff set each voter's weight."
        )
        reason = serializers.CharField(
            required=False, allow_blank=True, default="", max_length=5000
        )

        def validate_weight(self, value):
            raise serializers.ValidationError(
                "A vote weighs what the voter's record says (set by staff), never what a request asks."
            )

    @extend_schema(
        summary="Vote on a proposal (a second vote replaces the first)",
        request=InputSerializer,
        responses={200: ProposalDetailOutput, 201: ProposalDetailOutput, 409: CONFLICT},
    )
    def post(self, request, code: str):
        proposal = get_object_or_404(Proposal, code=code)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            _, created = votes.vote_cast(
                proposal=proposal, voter=actor_of(request.user), **data.validated_data
            )
        except votes.VotingClosed as e:
            return Response({"detail": str(e)}, status=status.HTTP_409_CONFLICT)
        proposal.refresh_from_db()
        code_ = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(proposal_out(proposal, detail=True), status=code_)


class TransitionApi(APIView):
    @extend_schema_serializer(component_name="TransitionInput")
    class InputSerializer(StrictSerializer):
        to = serializers.ChoiceField(choices=STATUS_CHOICES)
        note = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)

    @extend_schema(
        summary="Move a proposal to another status (operator keys and staff)",
        request=InputSerializer,
        responses={200: ProposalDetailOutput, 409: CONFLICT},
    )
    def post(self, request, code: str):
        proposal = get_object_or_404(Proposal, code=code)
        actor = actor_of(request.user)
        if not may(actor, Action.TRANSITION):
            return Response(
                {"detail": "Status changes need an operator key or a staff account."},
                status=status.HTTP_403_FORBIDDEN,
            )
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            proposal = services.proposal_transition(
                proposal=proposal, by=actor, **data.validated_data
            )
        except IllegalTransition as e:
            return Response(
                {"detail": str(e), "status": e.current, "to": e.target},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(proposal_out(proposal, detail=True))
