"""Admin: a proposal page to govern from (tally, votes, the allowed transitions, remedy failures),
voters' weights, and the list actions. Every change goes through a service, as the signed-in user.
"""

from django.contrib import admin, messages
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import services, votes
from .admin_governance import GovernanceMixin, actor
from .forms import ProposalForm, VoterForm
from .lifecycle import IllegalTransition, Status
from .models import Proposal, Vote, Voter

# Once voting opens these are what people vote on: read-only from then on.
LOCKED_ONCE_VOTING = [
    "title",
    "description",
    "remedy",
    "remedy_args",
    "voting_rule",
    "quorum",
    "electorate",
    "voting_deadline",
]
BEFORE_VOTING = (Status.DRAFT, Status.SUBMITTED, Status.UNDER_REVIEW)
HISTORY = [
    "decided_by",
    "rejection_note",
    "resolution_note",
    "created_at",
    "submitted_at",
    "review_started_at",
    "voting_opened_at",
    "decided_at",
    "implemented_at",
    "archived_at",
]
ALWAYS_READONLY = ["code", "status", "proposed_by", "source", "metadata", *HISTORY]


class VoteInline(admin.TabularInline):
    model = Vote
    extra = 0
    fields = ["voter", "choice", "weight", "reason", "updated_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # votes are cast with the buttons above, as the signed-in user

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Proposal)
class ProposalAdmin(GovernanceMixin, admin.ModelAdmin):
    form = ProposalForm
    list_display = ["code", "title", "status", "category", "priority", "voting_deadline"]
    list_filter = ["status", "category", "priority"]
    search_fields = ["code", "title", "tags"]
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
        "remedy_retry",
    ]

    def get_fieldsets(self, request, obj=None):
        main = ["title", "description", "category", "priority", "tags"]
        if obj and obj.status not in BEFORE_VOTING:
            main.remove("description")  # locked: shown rendered above, not as raw Markdown
        sets = [
            (None, {"fields": (["code", "status"] if obj else []) + main}),
            (_("Remedy"), {"fields": ["remedy", "remedy_args"]}),
            (_("Voting"), {"fields": ["voting_rule", "quorum", "electorate", "voting_deadline"]}),
        ]
        if obj:
            filing = ["proposed_by", "source", "metadata"]
            sets += [
                (_("Filed by"), {"fields": filing, "classes": ["collapse"]}),
                (_("History"), {"fields": HISTORY, "classes": ["collapse"]}),
            ]
        return sets

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ALWAYS_READONLY
        locked = obj.status not in BEFORE_VOTING
        return ALWAYS_READONLY + (LOCKED_ONCE_VOTING if locked else [])

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # proposals are history: archive instead

    def save_model(self, request, obj, form, change):
        if not change:  # filed through the service, exactly as the API files it
            fields = dict(form.cleaned_data)
            created = services.proposal_create(
                title=fields.pop("title"), proposed_by=actor(request), **fields
            )
            obj.pk = created.pk
            obj.refresh_from_db()
            return
        fields = {f: getattr(obj, f) for f in form.cleaned_data}
        # Never status or stamps (a transition may have moved it meanwhile); the locked fields
        # only while voting has not opened, checked in the same UPDATE.
        rows = Proposal.objects.filter(pk=obj.pk)
        if fields.keys() & set(LOCKED_ONCE_VOTING):
            rows = rows.filter(status__in=BEFORE_VOTING)
        if not rows.update(**fields):
            messages.error(request, _("Voting opened meanwhile: nothing was changed."))

    def _move(self, request, queryset, to: str) -> None:
        moved, refused = 0, []
        for proposal in queryset:
            try:
                services.proposal_transition(proposal=proposal, to=to, by=actor(request))
                moved += 1
            except (IllegalTransition, services.NotAllowed) as e:
                refused.append(f"{proposal.code}: {e}")
        self.message_user(request, f"Moved {moved} proposal(s) to {to}.")
        if refused:
            self.message_user(request, "Refused: " + "; ".join(refused), level=messages.ERROR)

    @admin.action(description=gettext_lazy("Submit"))
    def submit(self, request, queryset):
        self._move(request, queryset, Status.SUBMITTED)

    @admin.action(description=gettext_lazy("Start review"))
    def start_review(self, request, queryset):
        self._move(request, queryset, Status.UNDER_REVIEW)

    @admin.action(description=gettext_lazy("Open voting"))
    def open_voting(self, request, queryset):
        self._move(request, queryset, Status.VOTING)

    @admin.action(description=gettext_lazy("Approve"))
    def approve(self, request, queryset):
        self._move(request, queryset, Status.APPROVED)

    @admin.action(description=gettext_lazy("Reject"))
    def reject(self, request, queryset):
        self._move(request, queryset, Status.REJECTED)

    @admin.action(description=gettext_lazy("Mark implemented"))
    def mark_implemented(self, request, queryset):
        self._move(request, queryset, Status.IMPLEMENTED)

    @admin.action(description=gettext_lazy("Archive"))
    def archive(self, request, queryset):
        self._move(request, queryset, Status.ARCHIVED)

    def _vote(self, request, queryset, choice: str) -> None:
        cast, refused = 0, []
        for proposal in queryset:
            try:
                votes.vote_cast(proposal=proposal, voter=actor(request), choice=choice)
                cast += 1
            except (votes.VotingClosed, services.NotAllowed) as e:
                refused.append(str(e))
        self.message_user(request, f"Voted {choice} on {cast} proposal(s).")
        if refused:
            self.message_user(request, "Refused: " + "; ".join(refused), level=messages.ERROR)

    @admin.action(description=gettext_lazy("Vote yes (as me)"))
    def vote_yes(self, request, queryset):
        self._vote(request, queryset, "yes")

    @admin.action(description=gettext_lazy("Vote no (as me)"))
    def vote_no(self, request, queryset):
        self._vote(request, queryset, "no")

    @admin.action(description=gettext_lazy("Vote abstain (as me)"))
    def vote_abstain(self, request, queryset):
        self._vote(request, queryset, "abstain")

    @admin.action(description=gettext_lazy("Retry the remedy"))
    def remedy_retry(self, request, queryset):
        n = sum(services.remedy_retry(proposal=p, by=actor(request)) for p in queryset)
        self.message_user(request, _("Queued %(n)d remedy(ies) again.") % {"n": n})


@admin.register(Voter)
class VoterAdmin(admin.ModelAdmin):
    """What each voter's votes weigh; set through the service, which records who set it."""

    form = VoterForm
    list_display = ["name", "weight", "note", "updated_at", "updated_by"]
    search_fields = ["name", "note"]
    readonly_fields = ["updated_at", "updated_by"]

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields + (["name"] if obj else [])

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # set the weight back to 1 instead: who did it stays on record

    def save_model(self, request, obj, form, change):
        voter = votes.voter_weight_set(
            name=obj.name, weight=obj.weight, note=obj.note, by=actor(request)
        )
        obj.pk = voter.pk
        obj.refresh_from_db()
