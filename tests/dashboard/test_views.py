"""The dashboard's pages and actions, including every refusal."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from llmfallback.models import AuditEntry, ErrorEvent, KeyHealth, ProviderHealth, UsageBucket

ACTION_URLS = [
    "/dashboard/llm/providers/groq/reset",
    "/dashboard/llm/providers/groq/disable",
    "/dashboard/llm/providers/groq/enable",
    "/dashboard/llm/providers/gemini/up",
    "/dashboard/llm/providers/groq/down",
    "/dashboard/llm/reset-all",
]
PAGES = ["/dashboard/llm", "/dashboard/llm/data.json"]


def cool_down(name="groq", seconds=90, error="rate_limit"):
    until = timezone.now() + timedelta(seconds=seconds)
    KeyHealth.objects.filter(provider__name=name).update(
        cooldown_until=until, last_error_type=error
    )
    ProviderHealth.objects.filter(name=name).update(
        consecutive_failures=3,
        total_requests=10,
        total_failures=3,
        last_error_type=error,
        last_error_message="Rate limit reached for model [redacted]",
    )


# --- refusals -------------------------------------------------------------------------


@pytest.mark.parametrize("url", PAGES + ACTION_URLS)
def test_anonymous_users_are_sent_to_the_login_page(client, providers, url):
    response = client.post(url) if url in ACTION_URLS else client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("url", PAGES + ACTION_URLS)
def test_non_staff_users_are_refused(user_client, providers, url):
    response = (
        user_client.post(url, {"confirm": "yes"}) if url in ACTION_URLS else user_client.get(url)
    )
    assert response.status_code == 403
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("url", ACTION_URLS)
def test_get_on_an_action_is_refused(staff_client, providers, url):
    assert staff_client.get(url).status_code == 405
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("url", ACTION_URLS)
def test_an_action_without_a_csrf_token_is_refused(staff, providers, url):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    assert client.post(url, {"confirm": "yes"}).status_code == 403
    assert not AuditEntry.objects.exists()


def test_an_unknown_provider_or_action_is_404(staff_client, providers):
    assert (
        staff_client.post("/dashboard/llm/providers/nope/reset", {"confirm": "yes"}).status_code
        == 404
    )
    assert (
        staff_client.post("/dashboard/llm/providers/groq/explode", {"confirm": "yes"}).status_code
        == 404
    )


# --- the page ---------------------------------------------------------------------------


def test_the_dashboard_shows_a_card_per_provider_in_priority_order(staff_client, providers):
    html = staff_client.get("/dashboard/llm").content.decode()
    positions = [html.index(f'id="card-{name}"') for name in providers]
    assert positions == sorted(positions)
    assert html.count('class="pill pill-healthy" data-testid="state"') == 3


def test_a_cooling_provider_shows_its_countdown_and_last_error(staff_client, providers):
    cool_down("groq", seconds=90)
    html = staff_client.get("/dashboard/llm").content.decode()
    card = html[html.index('id="card-groq"') : html.index('id="card-gemini"')]
    assert "Cooling down" in card
    assert 'class="countdown" data-remaining="' in card
    assert "1:30" in card or "1:29" in card
    assert "rate_limit" in card and "Rate limit reached for model [redacted]" in card
    assert "70.0%" in card  # success rate


def test_disabled_unavailable_and_unconfigured_providers_say_so(
    staff_client, providers, use_providers
):
    ProviderHealth.objects.filter(name="groq").update(is_enabled=False)
    ProviderHealth.objects.filter(name="gemini").update(is_unavailable=True)
    use_providers(DEEPSEEK_BASE_URL="", DEEPSEEK_API_KEY="")
    html = staff_client.get("/dashboard/llm").content.decode()
    assert 'id="card-groq"' in html and "Disabled" in html
    assert "Unavailable" in html
    assert "Not configured" in html and "DEEPSEEK_API_KEY" in html


def test_simulated_providers_are_marked(staff_client, providers, settings):
    settings.LLM_SIMULATED_PROVIDERS = ["gemini"]
    html = staff_client.get("/dashboard/llm").content.decode()
    card = html[html.index('id="card-gemini"') : html.index('id="card-deepseek"')]
    assert "Simulated" in card
    assert "Simulated" not in html[html.index('id="card-groq"') : html.index('id="card-gemini"')]


def test_latency_percentiles_and_charts_come_from_the_usage_buckets(staff_client, providers):
    now = timezone.now().replace(second=0, microsecond=0)
    # 10 attempts at 200 ms, 10 at 400 ms: the columns the store would increment.
    UsageBucket.objects.create(provider="groq", minute=now, requests=20, failures=2, h30=10, h33=10)
    ErrorEvent.objects.create(
        created_at=timezone.now(), provider="groq", error_type="timeout", message="slow"
    )
    html = staff_client.get("/dashboard/llm").content.decode()
    assert "217 ms" in html and "374 ms" in html  # p50, p95 of the groq card: within 10 %
    assert html.count("<svg") == 3
    assert "<polyline" in html and "<rect" in html
    assert "groq peak per minute 20 requests" in html
    assert "timeout total 1 failure" in html and "1 failures" not in html  # pluralised
    assert "peak per minute: 20 requests" in html  # the legend says what its number is
    assert "total: 1 failure<" in html
    day = staff_client.get("/dashboard/llm?window=day").content.decode()
    assert day.count("<svg") == 3 and 'href="?window=day" aria-current="true"' in day


def test_recent_errors_can_be_filtered_by_provider_and_class(staff_client, providers):
    now = timezone.now()
    ErrorEvent.objects.create(
        created_at=now, provider="groq", error_type="rate_limit", message="groq-429"
    )
    ErrorEvent.objects.create(
        created_at=now, provider="gemini", error_type="timeout", message="gemini-timeout"
    )
    html = staff_client.get("/dashboard/llm?provider=gemini").content.decode()
    assert "gemini-timeout" in html and "groq-429" not in html
    html = staff_client.get("/dashboard/llm?error_type=rate_limit").content.decode()
    assert "groq-429" in html and "gemini-timeout" not in html


def test_without_escalations_the_page_says_none_are_open(staff_client, providers):
    assert "No open escalations." in staff_client.get("/dashboard/llm").content.decode()


def test_the_page_works_without_javascript(staff_client, providers):
    html = staff_client.get("/dashboard/llm").content.decode()
    assert '<noscript><meta http-equiv="refresh"' in html
    assert html.count('<form method="post"') >= 1 + 3 * 2  # reset all; reset + disable per card
    assert "csrfmiddlewaretoken" in html
    assert (
        "/static/llmfallback/dashboard.js" in html and "/static/llmfallback/dashboard.css" in html
    )
    assert "http://" not in html.split("<main")[0].replace("http-equiv", "")  # no CDN in <head>


# --- the JSON twin -------------------------------------------------------------------


def test_the_json_endpoint_has_the_cards_figures_and_live_panels(staff_client, providers):
    cool_down("groq", seconds=60)
    data = staff_client.get("/dashboard/llm/data.json").json()
    assert [p["name"] for p in data["providers"]] == providers
    groq = data["providers"][0]
    assert groq["state"] == "cooling" and 55 < groq["cooldown_remaining_s"] <= 60
    assert groq["keys"]["k1"]["in_cooldown"]
    assert set(data["html"]) == {"cards", "summary", "charts", "errors", "escalations", "audit"}
    assert 'id="card-groq"' in data["html"]["cards"]["groq"]


# --- actions -------------------------------------------------------------------------


def test_an_action_without_confirmation_asks_on_a_page_of_its_own(staff_client, providers):
    cool_down("groq")
    response = staff_client.post("/dashboard/llm/providers/groq/reset")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Reset the cooldown of groq?" in html
    assert (
        'name="confirm" value="yes"' in html
        and 'action="/dashboard/llm/providers/groq/reset"' in html
    )
    assert KeyHealth.objects.get(provider__name="groq").cooldown_until is not None
    assert not AuditEntry.objects.exists()


def test_reset_clears_the_cooldown_and_is_audited(staff_client, providers):
    cool_down("groq")
    response = staff_client.post(
        "/dashboard/llm/providers/groq/reset", {"confirm": "yes"}, follow=True
    )
    assert response.redirect_chain == [("/dashboard/llm", 302)]
    assert "Reset groq." in response.content.decode()
    assert KeyHealth.objects.get(provider__name="groq").cooldown_until is None
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.target) == ("user:ops", "provider_reset", "groq")
    assert "k1" in entry.before
    assert "provider_reset" in response.content.decode()  # the page shows the audit log


def test_reset_all_resets_every_blocked_provider(staff_client, providers):
    cool_down("groq")
    cool_down("gemini")
    staff_client.post("/dashboard/llm/reset-all", {"confirm": "yes"})
    assert not KeyHealth.objects.exclude(cooldown_until=None).exists()
    # only the two that were blocked: a reset that changes nothing writes nothing
    assert list(AuditEntry.objects.order_by("target").values_list("action", "target")) == [
        ("provider_reset", "gemini"),
        ("provider_reset", "groq"),
    ]


def test_disable_then_enable_are_audited_with_before_and_after(staff_client, providers):
    staff_client.post("/dashboard/llm/providers/gemini/disable", {"confirm": "yes"})
    assert not ProviderHealth.objects.get(name="gemini").is_enabled
    html = staff_client.get("/dashboard/llm").content.decode()
    assert "/dashboard/llm/providers/gemini/enable" in html
    staff_client.post("/dashboard/llm/providers/gemini/enable", {"confirm": "yes"})
    assert ProviderHealth.objects.get(name="gemini").is_enabled
    entries = list(AuditEntry.objects.order_by("id").values_list("action", "before", "after"))
    assert entries == [
        ("provider_disable", {"is_enabled": True}, {"is_enabled": False}),
        ("provider_enable", {"is_enabled": False}, {"is_enabled": True}),
    ]


def test_moving_a_provider_changes_the_order_of_the_cards(staff_client, providers):
    staff_client.post("/dashboard/llm/providers/deepseek/up", {"confirm": "yes"})
    html = staff_client.get("/dashboard/llm").content.decode()
    assert html.index('id="card-deepseek"') < html.index('id="card-gemini"')
    entry = AuditEntry.objects.get()
    assert entry.before == {"order": ["groq", "gemini", "deepseek"]}
    assert entry.after == {"order": ["groq", "deepseek", "gemini"]}


def test_the_first_card_cannot_move_up_and_the_last_cannot_move_down(staff_client, providers):
    html = staff_client.get("/dashboard/llm").content.decode()
    assert "/providers/groq/up" not in html and "/providers/deepseek/down" not in html
    assert "/providers/groq/down" in html and "/providers/deepseek/up" in html


def test_each_card_names_the_routes_that_call_its_provider(staff_client, providers, settings):
    from llmfallback.core.routing import parse_routes

    models = {c.name: c.model for c in settings.LLM_PROVIDERS}
    settings.LLM_ROUTES = parse_routes("fast=groq/llama-3.1-8b-instant; long=gemini", models=models)
    page = staff_client.get("/dashboard/llm").content.decode()
    groq = page[page.index('id="card-groq"') : page.index('id="card-gemini"')]
    assert '<code title="llama-3.1-8b-instant">fast</code> (llama-3.1-8b-instant)' in groq
    gemini = page[page.index('id="card-gemini"') : page.index('id="card-deepseek"')]
    assert '<code title="gemini-2.5-flash">long</code></p>' in gemini
    assert 'data-testid="routes"' not in page[page.index('id="card-deepseek"') :]


def test_disabling_the_last_enabled_provider_asks_again(staff_client, providers):
    ProviderHealth.objects.exclude(name="groq").update(is_enabled=False)
    html = staff_client.get("/dashboard/llm").content.decode()
    assert 'data-confirm-again="groq is the last enabled provider.' in html
    page = staff_client.post("/dashboard/llm/providers/groq/disable", {"confirm": "yes"})
    text = page.content.decode()
    assert "last enabled provider" in text and "503" in text
    assert 'name="confirm_last" value="yes"' in text
    assert ProviderHealth.objects.get(name="groq").is_enabled  # asked, not done
    staff_client.post(
        "/dashboard/llm/providers/groq/disable", {"confirm": "yes", "confirm_last": "yes"}
    )
    assert not ProviderHealth.objects.get(name="groq").is_enabled


def test_disabling_one_of_several_providers_asks_once(staff_client, providers):
    html = staff_client.get("/dashboard/llm").content.decode()
    assert "data-confirm-again" not in html
    staff_client.post("/dashboard/llm/providers/groq/disable", {"confirm": "yes"})
    assert not ProviderHealth.objects.get(name="groq").is_enabled


def test_the_web_workers_load_is_shown_when_gunicorn_serves(staff_client, providers, monkeypatch):
    from d8site import web_stats

    stats = web_stats.WebStats(slots=2, alive=lambda pid: True)
    monkeypatch.setattr(web_stats, "STATS", stats)
    assert b"web-load" not in staff_client.get("/dashboard/llm").content  # not under gunicorn
    row = stats.claim(4242)
    row.set("in_flight", 500)
    row.set("queued", 12)
    row.add("shed_queue_full", 3)
    row.add("shed_queue_timeout", 1)
    row.add("dropped_client_gone", 6)
    summary = staff_client.get("/dashboard/llm/data.json").json()["html"]["summary"]
    text = " ".join(summary.split())
    assert '<span class="big">500</span> in flight' in text
    assert '<span class="big">12</span> queued' in text
    assert '<span class="big">4</span> shed' in text
    assert '<span class="big">6</span> dropped' in text


def test_recent_errors_show_ten_with_a_link_to_every_error(staff_client, providers):
    from django.utils import timezone

    from llmfallback.models import ErrorEvent

    now = timezone.now()
    ErrorEvent.objects.bulk_create(
        ErrorEvent(created_at=now, provider="groq", error_type="timeout", message=f"e{i}")
        for i in range(30)
    )
    html = staff_client.get("/dashboard/llm?provider=groq").content.decode()
    errors = html[html.index('id="errors"') :]
    assert errors.count('<td class="msg">') == 10
    assert 'href="/admin/llmfallback/errorevent/?provider=groq"' in errors


def test_open_escalations_come_before_the_errors(staff_client, providers):
    html = staff_client.get("/dashboard/llm").content.decode()
    assert html.index('id="esc-h"') < html.index('id="errors-h"')
