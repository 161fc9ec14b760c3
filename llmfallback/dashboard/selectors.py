"""Read-only queries behind /dashboard/llm, its JSON twin and the terminal table."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count
from django.db.models.functions import TruncHour, TruncMinute
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from llmfallback.core.percentiles import histogram_percentile, merge_counts
from llmfallback.dashboard.charts import line_chart, stacked_bar_chart
from llmfallback.escalation.labels import reason_label
from llmfallback.models import (
    LATENCY_BOUNDS_MS,
    LATENCY_COLUMNS,
    AlertDelivery,
    AuditEntry,
    ErrorEvent,
    ProviderHealth,
    UsageBucket,
)
from llmfallback.selectors import health_report, latency_round

WINDOWS = {  # name -> (slot length, number of slots, truncation)
    "hour": (timedelta(minutes=1), 60, TruncMinute),
    "day": (timedelta(hours=1), 24, TruncHour),
}
AUDIT_ROWS = 20


def provider_state(p: dict) -> str:
    """One word for a provider card, most serious first."""
    keys = p["keys"].values()
    if not p["configured"]:
        return "not_configured"
    if not p["is_enabled"]:
        return "disabled"
    if p["is_unavailable"] or (keys and not any(k["is_available"] for k in keys)):
        return "unavailable"
    if p["in_cooldown"]:
        return "cooling"
    return "healthy"


def cooldown_remaining(p: dict) -> float:
    """Seconds until the provider can be called again: its own cooldown, else its first key's."""
    if p["cooldown_remaining_s"]:
        return p["cooldown_remaining_s"]
    waits = [k["cooldown_remaining_s"] for k in p["keys"].values() if k["is_available"]]
    return min(waits, default=0.0) if p["in_cooldown"] else 0.0


def provider_cards(*, now: datetime | None = None) -> list[dict]:
    """Everything a provider card shows, in the current priority order."""
    now = now or timezone.now()
    providers = health_report(now=now)["providers"]
    rows = {r.name: r for r in ProviderHealth.objects.all()}
    simulated = set(getattr(settings, "LLM_SIMULATED_PROVIDERS", []) or [])
    enabled = [r.name for r in rows.values() if r.is_enabled]
    cards = []
    for index, (name, p) in enumerate(providers.items()):
        row = rows.get(name)
        p = p | {"is_unavailable": bool(row and row.is_unavailable)}
        remaining = cooldown_remaining(p)
        cards.append(
            p
            | {
                "name": name,
                "state": provider_state(p),
                "simulated": name in simulated,
                "has_row": row is not None,
                "first": index == 0,
                "last": index == len(providers) - 1,
                "last_enabled": enabled == [name],  # disabling it leaves no provider at all
                "cooldown_remaining_s": remaining,
                "cooldown_ends": (now + timedelta(seconds=remaining)).isoformat()
                if remaining
                else None,
                "failures_ok": p["total_requests"] - p["total_failures"],
                "latency": {"p50": p["p50_latency_ms"], "p95": p["p95_latency_ms"]},
                "key_list": [k | {"label": label} for label, k in p["keys"].items()],
                "routes": provider_routes(name),
            }
        )
    return cards


def provider_routes(name: str) -> list[dict]:
    """The named routes (LLM_ROUTES) that call this provider, with the model each calls."""
    return [
        {"route": route.name, "model": model}
        for route in settings.LLM_ROUTES.values()
        for provider, model in route.steps
        if provider == name
    ]


def _slots(window: str, now: datetime) -> tuple[list[datetime], timedelta]:
    length, count, _trunc = WINDOWS[window]
    now = timezone.localtime(now)
    last = now.replace(second=0, microsecond=0)
    if window == "day":
        last = last.replace(minute=0)
    return [last - length * (count - 1 - i) for i in range(count)], length


def _index(slots: list[datetime], length: timedelta, at: datetime) -> int | None:
    i = int((at - slots[0]) // length)
    return i if 0 <= i < len(slots) else None


def usage_charts(*, window: str = "hour", now: datetime | None = None) -> list:
    """Requests per provider, failures per error class and p95 latency per provider."""
    now = now or timezone.now()
    slots, length = _slots(window, now)
    fmt = "%H:%M"
    labels = [timezone.localtime(s).strftime(fmt) for s in slots]
    names = [c.name for c in settings.LLM_PROVIDERS]
    requests = {n: [0] * len(slots) for n in names}
    histograms = {n: [[] for _ in slots] for n in names}
    buckets = UsageBucket.objects.filter(minute__gte=slots[0], provider__in=names)
    for b in buckets.values("provider", "minute", "requests", *LATENCY_COLUMNS):
        i = _index(slots, length, b["minute"])
        if i is not None:
            requests[b["provider"]][i] += b["requests"]
            histograms[b["provider"]][i].append([b[c] for c in LATENCY_COLUMNS])
    p95 = {n: [_p95(h) for h in per_slot] for n, per_slot in histograms.items()}
    per_slot = _("peak per minute") if window == "hour" else _("peak per hour")
    return [
        line_chart(_("Requests per provider"), _requests, labels, requests, per_slot, integer=True),
        stacked_bar_chart(
            _("Failures per error class"),
            _failures_unit,
            labels,
            _failures(window, slots, length),
            _("total"),
        ),
        line_chart(_("Latency p95 per provider"), "ms", labels, p95, _("highest")),
    ]


def _requests(n) -> str:
    return ngettext("request", "requests", int(n))


def _failures_unit(n) -> str:
    return ngettext("failure", "failures", int(n))


def _p95(histograms: list[list[int]]) -> float | None:
    if not histograms:
        return None
    return latency_round(histogram_percentile(LATENCY_BOUNDS_MS, merge_counts(histograms), 95))


def _failures(window: str, slots: list[datetime], length: timedelta) -> dict[str, list[int]]:
    trunc = WINDOWS[window][2]
    rows = (
        ErrorEvent.objects.filter(created_at__gte=slots[0])
        .annotate(slot=trunc("created_at"))
        .values("slot", "error_type")
        .annotate(n=Count("id"))
    )
    series: dict[str, list[int]] = {}
    for row in rows:
        i = _index(slots, length, row["slot"])
        if i is not None:
            series.setdefault(row["error_type"], [0] * len(slots))[i] += row["n"]
    return dict(sorted(series.items()))


def error_classes() -> list[str]:
    return sorted(set(ErrorEvent.objects.values_list("error_type", flat=True).distinct()))


def audit_log(*, limit: int = AUDIT_ROWS) -> list[AuditEntry]:
    return list(AuditEntry.objects.all()[:limit])


def recent_alerts(*, limit: int = AUDIT_ROWS) -> list[AlertDelivery]:
    """The last alerts, one row per channel, with whether they were delivered."""
    return list(AlertDelivery.objects.all()[:limit])


def open_escalations() -> list[dict]:
    """Open escalations with their Congress proposal and its tally, linked to the admin."""
    try:  # escalations (issue 3) were built alongside this page: degrade to "none open"
        from congress.selectors import proposal_tally
        from llmfallback.models import Escalation
    except ImportError:
        return []
    rows = Escalation.objects.filter(status=Escalation.Status.OPEN).select_related("proposal")
    return [_escalation_dict(e, proposal_tally) for e in rows]


def _escalation_dict(e, proposal_tally) -> dict:
    proposals = []
    if e.proposal is not None:
        from congress.models import STATUS_LABELS

        t = proposal_tally(e.proposal)
        proposals.append(
            {
                "title": f"{e.proposal.code} · {e.proposal.title}",
                "status": STATUS_LABELS.get(e.proposal.status, e.proposal.status),
                "votes_for": _num(t.yes),
                "votes_against": _num(t.no),
                "votes_abstain": _num(t.abstain),
                "admin_url": reverse("admin:congress_proposal_change", args=[e.proposal.pk]),
            }
        )
    return {
        "title": f"#{e.number} · {reason_label(e.reason)}",
        "created_at": e.opened_at,
        "failed_requests": e.failed_requests,
        "admin_url": reverse("admin:llmfallback_escalation_change", args=[e.pk]),
        "proposals": proposals,
    }


def _num(value) -> float | int:
    return int(value) if value == int(value) else round(float(value), 2)


def failed_remedies(*, limit: int = AUDIT_ROWS) -> list[dict]:
    """Approved proposals whose remedy failed and has not succeeded since, newest failure first."""
    from congress.lifecycle import Status
    from congress.models import Proposal

    rows = (
        Proposal.objects.filter(status=Status.APPROVED)
        .exclude(remedy_error="")
        .order_by("-remedy_failed_at")[:limit]
    )
    return [
        {
            "title": f"{p.code} · {p.title}",
            "remedy": p.remedy,
            "reason": p.remedy_error,
            "failed_at": p.remedy_failed_at,
            "attempts": p.remedy_attempts,
            "admin_url": reverse("admin:congress_proposal_change", args=[p.pk]),
        }
        for p in rows
    ]


def web_load() -> dict:
    """This instance's web workers: requests in flight and queued (with the queue's limit), and
    those shed or dropped since the workers started (d8site/web_stats.py)."""
    from d8site.web_stats import STATS  # the gunicorn master's table, inherited by the workers

    totals = STATS.totals()
    limits = settings.WEB_LIMITS
    return {
        "workers": totals["workers"],
        "in_flight": totals["in_flight"],
        "threads": limits.threads * totals["workers"],
        "queued": totals["queued"],
        "queue_limit": limits.queue * totals["workers"],
        "shed": totals["shed_queue_full"] + totals["shed_queue_timeout"],
        "dropped": totals["dropped_client_gone"],
    }
