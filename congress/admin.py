"""Admin: a proposal page to govern from (tally, votes, the allowed transitions, remedy failures),
voters' weights, and the list actions. Every change goes through a service, as the signed-in user.
"""

import json

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from . import remedies, selectors, services
from .authority import Action, actor_of, may, remedy_min_voters
from .forms import ProposalForm, TransitionForm, VoteForm, VoterForm
from .lifecycle import TRANSITIONS, IllegalTransition, Status
from .models import Proposal, Vote, Voter
from .voting import Rule

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
MOVE_LABELS = {
    Status.SUBMITTED: gettext_lazy("Submit"),
    Status.UNDER_REVIEW: gettext_lazy("Start review"),
    Status.VOTING: gettext_lazy("Open voting"),
    Status.APPROVED: gettext_lazy("Approve"),
    Status.REJECTED: gettext_lazy("Reject"),
    Status.IMPLEMENTED: gettext_lazy("Mark implemented"),
    Status.ARCHIVED: gettext_lazy("Archive"),
}
RULE_TEXT = {
    Rule.SIMPLE: gettext_lazy("more than half of the yes and no weight says yes"),
    Rule.SUPERMAJORITY: gettext_lazy("more than two thirds of the yes and no weight says yes"),
    Rule.QUALIFIED: gettext_lazy("more than three quarters of the yes and no weight says yes"),
    Rule.UNANIMOUS: gettext_lazy("at least one yes and no “no” at all"),
}


def actor(request):
    return actor_of(request.user)


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
class ProposalAdmin(admin.ModelAdmin):
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
        sets = [
            (None, {"fields": (["code", "status"] if obj else []) + main}),
            (_("Remedy"), {"fields": ["remedy", "remedy_args"]}),
            (_("Voting"), {"fields": ["voting_rule", "quorum", "electorate", "voting_deadline"]}),
        ]
        if obj:
            filing = ["proposed_by", "source", "metadata"]
            sets += [(_("Filed by"), {"fields": filing}), (_("History"), {"fields": HISTORY})]
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

    def get_urls(self):
        def view(func, name):
            wrapped = self.admin_site.admin_view(require_POST(func))
            return path(f"<path:object_id>/{name}/", wrapped, name=f"congress_proposal_{name}")

        return [
            view(self.vote_view, "vote"),
            view(self.transition_view, "transition"),
            view(self.retry_view, "retry"),
        ] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        proposal = self.get_object(request, unquote(object_id))
        if proposal is not None:  # the deadline is checked on read, as the API does
            proposal = services.proposal_close_if_due(proposal=proposal)
            extra_context = (extra_context or {}) | {
                "governance": self.governance(request, proposal)
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def governance(self, request, proposal) -> dict:
        """What the page shows above the form: tally, vote and transition buttons, the remedy."""
        who = actor(request)
        result = selectors.proposal_tally(proposal)
        can_move = may(who, Action.TRANSITION) and self.has_change_permission(request, proposal)
        moves = TRANSITIONS[Status(proposal.status)] if can_move else ()
        share = result.yes_share
        deadline = proposal.voting_deadline
        return {
            "tally": result,
            "yes": f"{float(result.yes):g}",
            "no": f"{float(result.no):g}",
            "abstain": f"{float(result.abstain):g}",
            "progress": min(100, round(100 * result.voters / result.quorum))
            if result.quorum
            else 100,
            "yes_share": None if share is None else round(100 * float(share)),
            "rule_text": RULE_TEXT[result.rule],
            "outcome": result.outcome.value,
            "why_not": _why_rejected(result),
            "deadline": deadline,
            "deadline_passed": bool(deadline and deadline <= timezone.now()),
            "voting": proposal.status == Status.VOTING,
            "can_vote": proposal.status == Status.VOTING and may(who, Action.VOTE),
            "mine": proposal.votes.filter(voter=who.name).first(),
            "my_weight": f"{selectors.voter_weight(who.name):g}",
            "me": who.name,
            "moves": [(s.value, MOVE_LABELS[s]) for s in Status if s in moves],
            "remedy_text": remedies.describe().get(proposal.remedy, ""),
            "remedy_args": json.dumps(proposal.remedy_args, ensure_ascii=False),
            "min_voters": remedy_min_voters(),
            "can_retry": can_move and proposal.status == Status.APPROVED and proposal.remedy,
            "escalations": _escalation_links(proposal),
        }

    def _proposal(self, request, object_id, *, change: bool) -> Proposal:
        proposal = self.get_object(request, unquote(object_id))  # None for a malformed id too
        if proposal is None:
            raise Http404
        allowed = self.has_change_permission if change else self.has_view_permission
        if not allowed(request, proposal):
            raise PermissionDenied
        return proposal

    def _back(self, proposal):
        return redirect(reverse("admin:congress_proposal_change", args=[proposal.pk]))

    def vote_view(self, request, object_id):
        proposal = self._proposal(request, object_id, change=False)
        form = VoteForm(request.POST)
        if not form.is_valid():
            messages.error(
                request, _("Choose yes, no or abstain (a reason is at most 5000 characters).")
            )
            return self._back(proposal)
        try:
            services.vote_cast(proposal=proposal, voter=actor(request), **form.cleaned_data)
        except (services.VotingClosed, services.NotAllowed) as e:
            messages.error(request, str(e))
        else:
            choice = form.cleaned_data["choice"]
            messages.success(request, _("You voted %(choice)s.") % {"choice": _(choice)})
        return self._back(proposal)

    def transition_view(self, request, object_id):
        proposal = self._proposal(request, object_id, change=True)
        form = TransitionForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Unknown status."))
            return self._back(proposal)
        try:
            proposal = services.proposal_transition(
                proposal=proposal, by=actor(request), **form.cleaned_data
            )
        except (IllegalTransition, services.NotAllowed) as e:
            messages.error(request, str(e))
        else:
            messages.success(
                request, _("The proposal is now %(status)s.") % {"status": _(proposal.status)}
            )
        return self._back(proposal)

    def retry_view(self, request, object_id):
        proposal = self._proposal(request, object_id, change=True)
        try:
            queued = services.remedy_retry(proposal=proposal, by=actor(request))
        except services.NotAllowed as e:
            messages.error(request, str(e))
            return self._back(proposal)
        if queued:
            messages.success(request, _("The remedy was queued again."))
        else:
            messages.error(request, _("Only an approved proposal's remedy can be retried."))
        return self._back(proposal)

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
                services.vote_cast(proposal=proposal, voter=actor(request), choice=choice)
                cast += 1
            except (services.VotingClosed, services.NotAllowed) as e:
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


def _why_rejected(result) -> str:
    if result.outcome == "approved":
        return ""
    if not result.quorum_met:
        return _("quorum not met")
    return _("the rule is not met")


def _escalation_links(proposal) -> list[tuple[str, str]]:
    """The escalations that filed it (llmfallback's FK, related_name "escalations"), by name only:
    congress imports nothing of llmfallback.
    """
    related = getattr(proposal, "escalations", None)
    if related is None:
        return []
    return [
        (str(e), reverse(f"admin:{e._meta.app_label}_{e._meta.model_name}_change", args=[e.pk]))
        for e in related.all()
    ]


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
        voter = services.voter_weight_set(
            name=obj.name, weight=obj.weight, note=obj.note, by=actor(request)
        )
        obj.pk = voter.pk
        obj.refresh_from_db()
