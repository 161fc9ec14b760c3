"""Admin: escalations to the Congress, read-only, as tables a person can read, linked to their
proposals. The triggering messages (other agents' prompts) are shown to staff only.
"""

from datetime import datetime

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from congress.authority import Action, actor_of, may
from congress.models import STATUS_LABELS
from congress.selectors import proposal_tally
from llmfallback.escalation import timeline
from llmfallback.escalation.incidents import escalation_resolve
from llmfallback.escalation.labels import EVENT_KINDS, reason_label, tally_label
from llmfallback.models import Escalation

# Shown as tables under the fields, never as JSON.
TABLES = ["messages", "provider_status", "error_history", "context", "proposal_description"]


@admin.register(Escalation)
class EscalationAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "status",
        "trigger",
        "opened_at",
        "last_seen_at",
        "failed_requests",
        "failures",
        "proposal_link",
    ]
    list_filter = ["status", "trigger"]
    actions = ["resolve"]

    def get_fields(self, request, obj=None):
        fields = [f.name for f in self.model._meta.fields if f.name not in TABLES + ["id"]]
        shown = {"proposal": "proposal_link", "reason": "reason_shown"}
        return [shown.get(f, f) for f in fields]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a record of what happened: read it, resolve it with its button

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        resolve = self.admin_site.admin_view(self.resolve_view)
        url = path("<path:object_id>/resolve/", resolve, name="llmfallback_escalation_resolve")
        return [url, *super().get_urls()]

    def resolve_view(self, request, object_id):
        """The page's own Resolve button: a POST, then back to the page with what happened."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        escalation = self.get_object(request, unquote(object_id))
        if escalation is None:
            raise Http404
        if escalation_resolve(escalation=escalation, by=actor_of(request.user).name):
            self.message_user(request, _("Resolved escalation #%(n)d.") % {"n": escalation.number})
        else:
            self.message_user(request, _("This escalation was already closed."), messages.WARNING)
        return redirect("admin:llmfallback_escalation_change", escalation.pk)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        escalation = self.get_object(request, unquote(object_id))
        if escalation is not None:
            extra_context = (extra_context or {}) | escalation_tables(request, escalation)
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description=gettext_lazy("reason"))
    def reason_shown(self, obj):
        return reason_label(obj.reason)

    @admin.display(description=gettext_lazy("proposal"))
    def proposal_link(self, obj):
        if obj.proposal is None:
            return "-"
        url = reverse("admin:congress_proposal_change", args=[obj.proposal.pk])
        return format_html(
            '<a href="{}">{} ({})</a>', url, obj.proposal.code, obj.proposal.get_status_display()
        )

    @admin.action(description=gettext_lazy("Resolve (close by hand)"))
    def resolve(self, request, queryset):
        n = sum(escalation_resolve(escalation=e, by=actor_of(request.user).name) for e in queryset)
        self.message_user(request, _("Resolved %(n)d escalation(s).") % {"n": n})


def escalation_tables(request, escalation: Escalation) -> dict:
    """What the change page shows under the fields: snapshot, errors, timeline, messages."""
    detail = may(actor_of(request.user), Action.ESCALATION_DETAIL)
    status = escalation.provider_status if isinstance(escalation.provider_status, dict) else {}
    return {
        "is_open": escalation.status == Escalation.Status.OPEN,
        "resolve_url": reverse("admin:llmfallback_escalation_resolve", args=[escalation.pk]),
        "proposal": _proposal(escalation.proposal),
        "snapshot": [
            {"name": name} | state | {"cooldown_until": _when(state.get("cooldown_until"))}
            for name, state in status.items()
            if isinstance(state, dict)
        ],
        "error_rows": [
            e | {"timestamp": _when(e.get("timestamp"))}
            for e in escalation.error_history
            if isinstance(e, dict)
        ],
        "timeline": [
            {
                "at": e.created_at,
                "kind": EVENT_KINDS.get(e.kind, e.kind),
                "summary": _counted(e),
            }
            for e in timeline.timeline_page(escalation)["events"]
        ],
        "show_detail": detail,
        "messages_": escalation.messages if detail else [],
        "context_": escalation.context if detail else "",
    }


def _when(value) -> str:
    """An ISO timestamp from the JSON snapshot as the admin shows times, to the second."""
    try:
        return timezone.localtime(datetime.fromisoformat(value)).strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError):
        return value or "-"


def _proposal(proposal) -> dict | None:
    if proposal is None:
        return None
    t = proposal_tally(proposal)
    return {
        "url": reverse("admin:congress_proposal_change", args=[proposal.pk]),
        "name": f"{proposal.code} · {proposal.title}",
        "status": STATUS_LABELS.get(proposal.status, proposal.status),
        "tally": tally_label(t.yes, t.no, t.abstain),
    }


def _counted(event) -> str:
    """A repeated failure says how often and until when (escalation/timeline.py)."""
    if event.count <= 1:
        return event_summary(event.detail)
    last = timezone.localtime(event.last_at or event.created_at).strftime("%Y-%m-%d %H:%M:%S")
    counted = _("× %(count)d, last at %(last)s") % {"count": event.count, "last": last}
    return f"{counted}; {event_summary(event.detail)}"


def event_summary(detail) -> str:
    """One line for a timeline row: the attempts of a failure, else the detail's key: value pairs."""
    if not isinstance(detail, dict):
        return str(detail)
    parts = []
    for key, value in detail.items():
        if key == "attempts" and isinstance(value, list):
            value = ", ".join(_attempt(a) for a in value) or "-"
        if key == "reason" and isinstance(value, str):
            value = reason_label(value)
        parts.append(f"{key}: {value}")
    return "; ".join(parts)


def _attempt(a) -> str:
    if not isinstance(a, dict):
        return str(a)
    status = f" HTTP {a['status']}" if a.get("status") else ""
    return f"{a.get('provider', '?')} {a.get('error_type') or 'ok'}{status}"
