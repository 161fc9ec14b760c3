"""The proposal page's governing part: tally, vote and transition buttons, the remedy and its
retry, links to escalations. Its views are POSTs with CSRF, each calling a service as the
signed-in user and redirecting back to the page.
"""

import json

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from . import remedies, selectors, services, votes
from .authority import Action, actor_of, may, remedy_min_voters
from .forms import TransitionForm, VoteForm
from .lifecycle import TRANSITIONS, IllegalTransition, Status
from .markdown import markdown_html
from .models import Proposal
from .voting import Rule

MOVE_LABELS = {
    Status.SUBMITTED: gettext_lazy("Submit"),
    Status.UNDER_REVIEW: gettext_lazy("Start review"),
    Status.VOTING: gettext_lazy("Open voting"),
    Status.APPROVED: gettext_lazy("Approve"),
    Status.REJECTED: gettext_lazy("Reject"),
    Status.IMPLEMENTED: gettext_lazy("Mark implemented"),
    Status.ARCHIVED: gettext_lazy("Archive"),
}
CHOICE_WORDS = {
    "yes": gettext_lazy("yes"),
    "no": gettext_lazy("no"),
    "abstain": gettext_lazy("abstain"),
}
RULE_TEXT = {
    Rule.SIMPLE: gettext_lazy("more than half of the yes and no weight says yes"),
    Rule.SUPERMAJORITY: gettext_lazy("more than two thirds of the yes and no weight says yes"),
    Rule.QUALIFIED: gettext_lazy("more than three quarters of the yes and no weight says yes"),
    Rule.UNANIMOUS: gettext_lazy("at least one yes and no “no” at all"),
}


def actor(request):
    return actor_of(request.user)


class GovernanceMixin:
    """For ProposalAdmin: the page's extra context and the views its forms post to."""

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
            proposal = votes.proposal_close_if_due(proposal=proposal)
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
        mine = proposal.votes.filter(voter=who.name).first()
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
            "mine": mine,
            "mine_word": CHOICE_WORDS[mine.choice] if mine else "",
            "my_weight": f"{selectors.voter_weight(who.name):g}",
            "me": who.name,
            "moves": [(s.value, MOVE_LABELS[s]) for s in Status if s in moves],
            "remedy_text": remedies.describe().get(proposal.remedy, ""),
            "remedy_args": json.dumps(proposal.remedy_args, ensure_ascii=False),
            "min_voters": remedy_min_voters(),
            "can_retry": can_move and proposal.status == Status.APPROVED and proposal.remedy,
            "escalations": _escalation_links(proposal),
            "description_html": markdown_html(proposal.description),
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
            votes.vote_cast(proposal=proposal, voter=actor(request), **form.cleaned_data)
        except (votes.VotingClosed, services.NotAllowed) as e:
            messages.error(request, str(e))
        else:
            choice = form.cleaned_data["choice"]
            messages.success(request, _("You voted %(choice)s.") % {"choice": CHOICE_WORDS[choice]})
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
                request,
                _("The proposal is now %(status)s.") % {"status": proposal.get_status_display()},
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
