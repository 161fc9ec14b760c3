"""The operator's pages: the LLM dashboard, its actions, its JSON twin, the API docs."""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from congress.authority import actor_of
from llmfallback import selectors, services
from llmfallback.dashboard import selectors as ds

# Asked a second time before the last enabled provider goes: afterwards nothing can answer.
LAST_ONE = gettext_lazy(
    "%(name)s is the last enabled provider. Disable it anyway? Every chat request will get "
    "503 until a provider is enabled again."
)

ACTIONS = {  # name -> (service, confirmation question, done message)
    "reset": (
        lambda name, by: services.provider_cooldown_reset(name=name, by=by),
        gettext_lazy("Reset the cooldown of %(name)s?"),
        gettext_lazy("Reset %(name)s."),
    ),
    "disable": (
        lambda name, by: services.provider_disable(name=name, by=by),
        gettext_lazy("Disable %(name)s? The gateway will stop calling it."),
        gettext_lazy("Disabled %(name)s."),
    ),
    "enable": (
        lambda name, by: services.provider_enable(name=name, by=by),
        gettext_lazy("Enable %(name)s?"),
        gettext_lazy("Enabled %(name)s."),
    ),
    "up": (
        lambda name, by: services.provider_move(name=name, direction="up", by=by),
        gettext_lazy("Move %(name)s up (tried earlier)?"),
        gettext_lazy("Moved %(name)s up."),
    ),
    "down": (
        lambda name, by: services.provider_move(name=name, direction="down", by=by),
        gettext_lazy("Move %(name)s down (tried later)?"),
        gettext_lazy("Moved %(name)s down."),
    ),
}


def staff_required(view):
    """Anonymous users go to the login page; signed-in non-staff users get 403."""

    @wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        if not request.user.is_staff:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


DASHBOARD_ERRORS = 10


def _errors_admin_url(provider: str, error_type: str) -> str:
    """The error history in the admin, with the dashboard's filters."""
    query = urlencode(
        {k: v for k, v in {"provider": provider, "error_type": error_type}.items() if v}
    )
    url = reverse("admin:llmfallback_errorevent_changelist")
    return f"{url}?{query}" if query else url


def dashboard_context(request) -> dict:
    window = request.GET.get("window", "hour")
    window = window if window in ds.WINDOWS else "hour"
    provider = request.GET.get("provider", "")
    error_type = request.GET.get("error_type", "")
    return {
        "report": selectors.health_report(),
        "cards": ds.provider_cards(),
        "charts": ds.usage_charts(window=window),
        "window": window,
        # A page that stays short after an incident: the latest few, and a link to them all.
        "errors": selectors.recent_errors(
            limit=DASHBOARD_ERRORS, provider=provider, error_type=error_type
        ),
        "errors_all_url": _errors_admin_url(provider, error_type),
        "error_filter": {"provider": provider, "error_type": error_type},
        "provider_names": selectors.provider_names(),
        "error_classes": ds.error_classes(),
        "escalations": ds.open_escalations(),
        "failed_remedies": ds.failed_remedies(),
        "audit": ds.audit_log(),
        "alerts": ds.recent_alerts(),
        "web": ds.web_load(),
        "query": request.GET.urlencode(),
    }


@require_GET
@staff_required
def dashboard(request):
    return render(request, "llmfallback/dashboard.html", dashboard_context(request))


@require_GET
@staff_required
def dashboard_data(request):
    """The dashboard's figures as JSON, with its live panels rendered for the page's script."""
    context = dashboard_context(request)

    def html(template: str, **extra) -> str:
        return render_to_string(f"llmfallback/{template}", context | extra, request=request)

    return JsonResponse(
        {
            "timestamp": context["report"]["timestamp"],
            "total_requests": context["report"]["total_requests"],
            "congress_escalations": context["report"]["congress_escalations"],
            "providers": [_card_json(c) for c in context["cards"]],
            "html": {
                "cards": {c["name"]: html("_card.html", card=c) for c in context["cards"]},
                "summary": html("_summary.html"),
                "charts": html("_charts.html"),
                "errors": html("_errors.html"),
                "escalations": html("_escalations.html"),
                "audit": html("_audit.html"),
            },
        }
    )


def _card_json(card: dict) -> dict:
    return {k: v for k, v in card.items() if k not in ("key_list", "has_row", "first", "last")}


@require_POST
@staff_required
def provider_action(request, name: str, action: str):
    if action not in ACTIONS or name not in selectors.provider_names():
        raise Http404
    service, question, done = ACTIONS[action]
    if request.POST.get("confirm") != "yes":
        return _confirm_page(request, question % {"name": name})
    last = action == "disable" and services.provider_is_last_enabled(name)
    if last and request.POST.get("confirm_last") != "yes":
        return _confirm_page(request, LAST_ONE % {"name": name}, last=True)
    service(name, actor_of(request.user).name)
    messages.success(request, done % {"name": name})
    return redirect("llm-dashboard")


@require_POST
@staff_required
def reset_all(request):
    if request.POST.get("confirm") != "yes":
        return _confirm_page(request, _("Reset the cooldowns of all providers?"))
    n = services.provider_reset_all(by=actor_of(request.user).name)
    messages.success(request, _("Reset all providers (%(n)d were blocked).") % {"n": n})
    return redirect("llm-dashboard")


def _confirm_page(request, question: str, last: bool = False):
    """Without JavaScript there is no confirm() dialog: ask on a page of its own."""
    context = {"question": question, "action": request.path, "last": last}
    return render(request, "llmfallback/confirm.html", context)


@require_GET
def api_docs(request):
    return render(request, "docs/api.html", {"base": request.build_absolute_uri("/").rstrip("/")})


class LogoutPage(auth_views.LogoutView):
    """GET shows a confirmation (logging out is a POST); POST logs out and says so."""

    http_method_names = ["get", "post", "options"]
    template_name = "registration/logout.html"

    def get(self, request, *args, **kwargs):
        return render(request, self.template_name)

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        messages.info(request, _("You have been logged out."))
        return response
