"""Admin: proposals with their votes; every action calls a service and reports a count."""

from django.contrib import admin, messages

from . import services
from .authority import actor_of
from .lifecycle import IllegalTransition, Status
from .models import Proposal, Vote


def actor(request):
    return actor_of(request.user)


class VoteInline(admin.TabularInline):
    model = Vote
    extra = 0
    fields = ["voter", "choice", "weight", "reason", "updated_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # votes are cast with the actions, as the signed-in user


@admin.register(Proposal)
class ProposalAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "title",
        "status",
        "category",
        "priority",
        "voting_deadline",
        "created_at",
    ]
    list_filter = ["status", "category", "priority"]
    search_fields = ["code", "title", "tags"]
    readonly_fields = [
        "code",
        "status",
        "proposed_by",
        "source",
        "decided_by",
        "created_at",
        "submitted_at",
        "review_started_at",
        "voting_opened_at",
        "decided_at",
        "implemented_at",
        "archived_at",
    ]
    inlines = [VoteInline]
    actions = [
        "submit",
        "start_review",
        "open_voting",
        "approve",
        "reject",
        "mark_implemented",
        "archive",
        "vote_yes",
        "vote_no",
        "vote_abstain",
    ]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.proposed_by = actor(request).name
        super().save_model(request, obj, form, change)

    def _move(self, request, queryset, to: str) -> None:
        moved, refused = 0, []
        for proposal in queryset:
            try:
                services.proposal_transition(proposal=proposal, to=to, by=actor(request))
                moved += 1
            except IllegalTransition as e:
                refused.append(f"{proposal.code}: {e}")
        self.message_user(request, f"Moved {moved} proposal(s) to {to}.")
        if refused:
            self.message_user(request, "Refused: " + "; ".join(refused), level=messages.ERROR)

    @admin.action(description="Submit")
    def submit(self, request, queryset):
        self._move(request, queryset, Status.SUBMITTED)

    @admin.action(description="Start review")
    def start_review(self, request, queryset):
        self._move(request, queryset, Status.UNDER_REVIEW)

    @admin.action(description="Open voting")
    def open_voting(self, request, queryset):
        self._move(request, queryset, Status.VOTING)

    @admin.action(description="Approve")
    def approve(self, request, queryset):
        self._move(request, queryset, Status.APPROVED)

    @admin.action(description="Reject")
    def reject(self, request, queryset):
        self._move(request, queryset, Status.REJECTED)

    @admin.action(description="Mark implemented")
    def mark_implemented(self, request, queryset):
        self._move(request, queryset, Status.IMPLEMENTED)

    @admin.action(description="Archive")
    def archive(self, request, queryset):
        self._move(request, queryset, Status.ARCHIVED)

    def _vote(self, request, queryset, choice: str) -> None:
        cast, refused = 0, []
        for proposal in queryset:
            try:
                services.vote_cast(proposal=proposal, voter=actor(request), choice=choice)
                cast += 1
            except services.VotingClosed as e:
                refused.append(str(e))
        self.message_user(request, f"Voted {choice} on {cast} proposal(s).")
        if refused:
            self.message_user(request, "Refused: " + "; ".join(refused), level=messages.ERROR)

    @admin.action(description="Vote yes (as me)")
    def vote_yes(self, request, queryset):
        self._vote(request, queryset, "yes")

    @admin.action(description="Vote no (as me)")
    def vote_no(self, request, queryset):
        self._vote(request, queryset, "no")

    @admin.action(description="Vote abstain (as me)")
    def vote_abstain(self, request, queryset):
        self._vote(request, queryset, "abstain")
