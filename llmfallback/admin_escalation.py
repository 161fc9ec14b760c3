"""Admin: escalations to the Congress, read-only, linked to their proposals."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from congress.authority import actor_of

from .escalation.incidents import escalation_resolve
from .models import Escalation, EscalationEvent


class EscalationEventInline(admin.TabularInline):
    model = EscalationEvent
    extra = 0
    fields = readonly_fields = ["created_at", "kind", "detail"]
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


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
    inlines = [EscalationEventInline]
    actions = ["resolve"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields] + ["proposal_link"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="proposal")
    def proposal_link(self, obj):
        if obj.proposal is None:
            return "-"
        url = reverse("admin:congress_proposal_change", args=[obj.proposal.pk])
        return format_html('<a href="{}">{} ({})</a>', url, obj.proposal.code, obj.proposal.status)

    @admin.action(description="Resolve (close by hand)")
    def resolve(self, request, queryset):
        n = sum(escalation_resolve(escalation=e, by=actor_of(request.user).name) for e in queryset)
        self.message_user(request, f"Resolved {n} escalation(s).")
