"""Admin: provider health with the dashboard's actions, read-only history, agent keys."""

import time

from django.contrib import admin
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from congress.authority import actor_of
from llmfallback import services
from llmfallback.access import agent_keys, counters, limits
from llmfallback.models import (
    AgentKey,
    AlertDelivery,
    AuditEntry,
    ErrorEvent,
    KeyHealth,
    ProviderHealth,
)

# The admin says what product it runs (its page titles come from templates/admin/base_site.html).
admin.site.site_header = "d8 LLM Fallback"
admin.site.site_title = "d8 LLM Fallback"
admin.site.index_title = _("Operations")


class ReadOnlyAdmin(admin.ModelAdmin):
    """History is append-only: it can be read and filtered, never edited here."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.display(description=_("available"), boolean=True)
def available(obj) -> bool:
    """Shown as the positive: a green tick for a usable provider or key, not "unavailable: no"."""
    return not obj.is_unavailable


class AvailableFilter(admin.SimpleListFilter):
    title = _("available")
    parameter_name = "available"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(is_unavailable=self.value() == "no")
        return queryset


class KeyHealthInline(admin.TabularInline):
    model = KeyHealth
    extra = 0
    can_delete = False
    fields = [
        "label",
        available,
        "cooldown_until",
        "consecutive_failures",
        "total_requests",
        "total_failures",
        "last_error_type",
        "last_error_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ProviderHealth)
class ProviderHealthAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "priority",
        "is_enabled",
        available,
        "cooldown_until",
        "consecutive_failures",
        "total_requests",
        "total_failures",
        "last_error_type",
    ]
    list_filter = ["is_enabled", AvailableFilter, "last_error_type"]
    readonly_fields = [
        "name",
        "is_enabled",
        available,
        "cooldown_until",
        "consecutive_failures",
        "total_requests",
        "total_failures",
        "last_error_type",
        "last_error_message",
        "last_error_at",
        "last_success_at",
    ]
    fields = ["priority", *readonly_fields]
    inlines = [KeyHealthInline]
    actions = ["reset_cooldown", "disable", "enable"]

    def has_add_permission(self, request) -> bool:
        return False  # rows follow the configuration (LLM_PROVIDER_PRIORITY)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a deleted row comes back at the next request: disable it instead

    @admin.action(description=_("Reset cooldown"))
    def reset_cooldown(self, request, queryset):
        n = sum(
            services.provider_cooldown_reset(name=p.name, by=actor_of(request.user).name)
            for p in queryset
        )
        self.message_user(request, _("Reset %(n)d blocked provider(s).") % {"n": n})

    @admin.action(description=_("Disable"))
    def disable(self, request, queryset):
        names = [p.name for p in queryset]
        if (
            services.provider_disable_leaves_none(names)
            and request.POST.get("confirm_last") != "yes"
        ):
            # Asked again, as the dashboard asks: this would answer every request with 503.
            context = self.admin_site.each_context(request) | {
                "opts": self.model._meta,
                "queryset": queryset,
                "names": names,
                "title": _("Disable"),
            }
            return render(
                request, "admin/llmfallback/providerhealth/confirm_disable_last.html", context
            )
        n = sum(
            services.provider_disable(name=p.name, by=actor_of(request.user).name) for p in queryset
        )
        self.message_user(request, _("Disabled %(n)d provider(s).") % {"n": n})

    @admin.action(description=_("Enable"))
    def enable(self, request, queryset):
        n = sum(
            services.provider_enable(name=p.name, by=actor_of(request.user).name) for p in queryset
        )
        self.message_user(request, _("Enabled %(n)d provider(s).") % {"n": n})


@admin.register(ErrorEvent)
class ErrorEventAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "provider",
        "key",
        "error_type",
        "status",
        "latency_ms",
        "message",
    ]
    list_filter = ["provider", "error_type", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["message"]
    date_hierarchy = "created_at"


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor", "action", "target", "before", "after", "note"]
    list_filter = ["action", "actor", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["target", "note"]


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "incident", "channel", "status", "attempts", "sent_at"]
    list_filter = ["status", "kind", "channel"]
    search_fields = ["incident", "text", "last_error"]
    date_hierarchy = "created_at"


@admin.register(AgentKey)
class AgentKeyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "prefix",
        "is_operator",
        "rpm_limit",
        "tokens_per_day",
        "providers",
        "requests_this_minute",
        "tokens_today",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["is_operator", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix"]
    fields = [
        "name",
        "prefix",
        "is_operator",
        "rpm_limit",
        "tokens_per_day",
        "allowed_providers",
        "default_route",
        "allowed_routes",
        "requests_this_minute",
        "tokens_today",
        "requests_in_all",
        "tokens_in_all",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    readonly_fields = [
        "name",
        "prefix",
        "requests_this_minute",
        "tokens_today",
        "requests_in_all",
        "tokens_in_all",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        return self.fields if obj else ["name", "is_operator", *agent_keys.LIMIT_FIELDS]

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else []

    def save_model(self, request, obj, form, change):
        if not change:  # made by the service, which keeps only the hash: the key is shown once
            limits = {f: form.cleaned_data.get(f) for f in agent_keys.LIMIT_FIELDS}
            created, raw = agent_keys.agent_key_create(
                name=form.cleaned_data["name"], operator=form.cleaned_data["is_operator"]
            )
            agent_keys.agent_key_limits_set(name=created.name, **limits)
            obj.pk, request._d8_new_key = created.pk, raw
            return
        # Only what the form edits: a full save() would write back usage counters that other
        # workers keep changing, and this worker must see the new limits at once.
        obj.save(update_fields=["is_operator", *agent_keys.LIMIT_FIELDS])
        agent_keys.agent_cache_clear()

    def response_add(self, request, obj, post_url_continue=None):
        """The one time the key exists in the clear: shown on this page, never stored or sent
        through the messages framework (whose cookie would carry it)."""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "key_name": obj.name,
            "raw_key": request._d8_new_key,
            "title": _("Agent key created"),
        }
        return render(request, "admin/llmfallback/agentkey/created.html", context)

    @admin.display(description=_("providers"))
    def providers(self, obj):
        return obj.allowed_providers or _("all")

    @admin.display(description=_("requests this minute"))
    def requests_this_minute(self, obj):
        return _usage(obj).requests_this_minute

    @admin.display(description=_("tokens today (UTC)"))
    def tokens_today(self, obj):
        return _usage(obj).tokens_today

    @admin.display(description=_("requests in all"))
    def requests_in_all(self, obj):
        return _usage(obj).requests_total

    @admin.display(description=_("tokens in all"))
    def tokens_in_all(self, obj):
        return _usage(obj).tokens_total

    @admin.action(description=_("Revoke"))
    def revoke(self, request, queryset):
        n = sum(agent_keys.agent_key_revoke(name=k.name) for k in queryset)
        self.message_user(request, _("Revoked %(n)d key(s).") % {"n": n})


def _usage(key: AgentKey) -> counters.Usage:
    """The key's usage, read once per row: four columns show it (one Redis MGET, not four)."""
    if not hasattr(key, "_usage_read"):
        key._usage_read = limits.usage(key, now=time.time())
    return key._usage_read


from llmfallback.admin import escalation as admin_escalation  # noqa: E402,F401  (escalations to the Congress, issue 3)
