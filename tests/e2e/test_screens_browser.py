"""Every screen issue 22 changed, in headless Chromium at a desktop and a phone width, in
English and Spanish: nothing scrolls the page sideways, each change is there, and a
screenshot of each of the four goes to a temporary directory (printed) for a person to see.
"""

import os
import re
import tempfile
from pathlib import Path

import httpx
import pytest
from django.contrib.auth.models import User
from django.test import Client

from llmfallback import services
from llmfallback.access import agent_keys
from llmfallback.models import ErrorEvent, Escalation, ProviderHealth
from llmfallback.runtime import provider_rows_sync
from tests.e2e.test_congress_browser import sync_q  # noqa: F401  (fixture)
from tests.e2e.test_dashboard_browser import DESKTOP, PHONE, browser  # noqa: F401  (fixture)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.same_on_any_database,
    pytest.mark.django_db(transaction=True),
]

SHOTS = Path(os.environ.get("SCREENSHOT_DIR") or tempfile.gettempdir()) / "d8-screens"
WIDE = {"width": 1440, "height": 900}
VARIANTS = [
    ("desktop", "en", DESKTOP),
    ("desktop", "es", DESKTOP),
    ("phone", "en", PHONE),
    ("phone", "es", PHONE),
]


@pytest.fixture
def night(live_server, use_providers, sim, sync_q):  # noqa: F811
    """After an incident: every provider failed, an escalation and its proposal, 30 errors."""
    provider_rows_sync()
    for name in ("groq", "gemini", "deepseek"):
        sim.script(name, [{"behavior": "unavailable", "times": -1}])
    _, key = agent_keys.agent_key_create(name="night-agent")
    response = httpx.post(
        f"{live_server.url}/api/llm/chat",
        headers={"Authorization": f"Bearer {key}"},
        json={"messages": [{"role": "user", "content": "summarise the night"}]},
        timeout=30,
    )
    assert response.status_code == 503
    event = ErrorEvent.objects.first()
    ErrorEvent.objects.bulk_create(
        ErrorEvent(created_at=event.created_at, provider="groq", error_type="timeout", message="x")
        for _ in range(30)
    )
    staff = User.objects.create_superuser("ops", password="pw-ops-123")
    client = Client()
    client.force_login(staff)
    return live_server.url, client.cookies["sessionid"].value, Escalation.objects.get()


def open_page(browser, base_url, session, viewport, lang):  # noqa: F811
    context = browser.new_context(
        viewport=viewport,
        locale="es-ES" if lang == "es" else "en-US",
        is_mobile=viewport is PHONE,
        extra_http_headers={"Accept-Language": lang},
    )
    host = re.sub(r"^https?://|:\d+$", "", base_url)
    context.add_cookies([{"name": "sessionid", "value": session, "domain": host, "path": "/"}])
    return context, context.new_page()


def no_sideways_scroll(page, viewport):
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"], f"{page.url} scrolls sideways: {width}px"


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    print(f"screenshot: {SHOTS / name}.png")


def test_dashboard_after_an_incident(browser, night):  # noqa: F811
    for device, lang, viewport in VARIANTS:
        dashboard_in(browser, night, device, lang, viewport)


def dashboard_in(browser, night, device, lang, viewport):  # noqa: F811
    from playwright.sync_api import expect

    base_url, session, _ = night
    context, page = open_page(browser, base_url, session, viewport, lang)
    page.goto(f"{base_url}/dashboard/llm")
    expect(page.locator("#errors tbody tr")).to_have_count(10)
    expect(page.locator("#errors .more a")).to_be_visible()
    esc, errors = (page.locator(s).bounding_box()["y"] for s in ("#esc-h", "#errors-h"))
    assert esc < errors, "open escalations come before the errors"
    escalations = page.locator("#escalations")
    if lang == "es":
        expect(escalations).to_contain_text("todos los proveedores fallaron la solicitud")
        expect(escalations).to_contain_text("en votación")
        expect(page.locator("#alerts")).to_contain_text("Alertas enviadas")
    else:
        expect(escalations).to_contain_text("every provider failed the request")
    no_sideways_scroll(page, viewport)
    keys = page.locator("#card-groq .keys-box")
    assert keys.evaluate("el => el.getBoundingClientRect().right") <= viewport["width"]
    shot(page, f"dashboard-{device}-{lang}")
    context.close()


def test_escalation_page_resolves_with_its_own_button(browser, night):  # noqa: F811
    from playwright.sync_api import expect

    base_url, session, escalation = night
    url = f"{base_url}/admin/llmfallback/escalation/{escalation.pk}/change/"
    for device, lang, viewport in VARIANTS:
        context, page = open_page(browser, base_url, session, viewport, lang)
        page.goto(url)
        no_sideways_scroll(page, viewport)
        label = "Resolver" if lang == "es" else "Resolve"
        expect(page.get_by_role("button", name=label, exact=True)).to_be_visible()
        shot(page, f"escalation-{device}-{lang}")
        context.close()
    context, page = open_page(browser, base_url, session, DESKTOP, "en")
    page.goto(url)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Resolve", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("Resolved escalation #1.")
    expect(page.locator("#resolve")).to_have_count(0)
    shot(page, "escalation-resolved-desktop-en")
    context.close()


def test_proposal_page_renders_its_markdown(browser, night):  # noqa: F811
    from playwright.sync_api import expect

    base_url, session, escalation = night
    for device, lang, viewport in VARIANTS:
        context, page = open_page(browser, base_url, session, viewport, lang)
        page.goto(f"{base_url}/admin/congress/proposal/{escalation.proposal_id}/change/")
        markdown = page.locator("#description .markdown")
        expect(markdown.locator("h2").first).to_be_visible()
        expect(markdown.locator("table").first).to_be_visible()
        assert "|---|" not in markdown.inner_text() and "## " not in markdown.inner_text()
        no_sideways_scroll(page, viewport)
        shot(page, f"proposal-{device}-{lang}")
        context.close()


def test_admin_lists_fit_a_wide_screen_and_say_available(browser, night):  # noqa: F811
    ProviderHealth.objects.filter(name="gemini").update(is_unavailable=True)
    services.provider_cooldown_reset(name="groq", by="user:ops")  # an audit entry with JSON
    for lang in ("en", "es"):
        admin_lists_in(browser, night, lang)


def admin_lists_in(browser, night, lang):  # noqa: F811
    from playwright.sync_api import expect

    base_url, session, _ = night
    context, page = open_page(browser, base_url, session, WIDE, lang)
    for path in ("providerhealth", "errorevent", "auditentry"):
        page.goto(f"{base_url}/admin/llmfallback/{path}/")
        shot(page, f"admin-{path}-wide-{lang}")
        right = page.locator("#result_list").evaluate("el => el.getBoundingClientRect().right")
        assert right <= WIDE["width"], f"{path}: the last columns are cut off ({right}px)"
    page.goto(f"{base_url}/admin/llmfallback/providerhealth/")
    expect(page.locator("#result_list thead")).to_contain_text(
        "Disponible" if lang == "es" else "Available"
    )
    expect(page.locator("#site-name")).to_contain_text("d8 LLM Fallback")
    context.close()


def test_disabling_the_last_enabled_provider_asks_twice(browser, night):  # noqa: F811
    from playwright.sync_api import expect

    base_url, session, _ = night
    ProviderHealth.objects.exclude(name="groq").update(is_enabled=False)
    context, page = open_page(browser, base_url, session, DESKTOP, "en")
    page.goto(f"{base_url}/dashboard/llm")
    questions = []

    def answer(dialog):
        questions.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)
    page.locator("#card-groq").get_by_role("button", name="Disable groq").click()
    expect(page.locator("#card-groq").get_by_test_id("state")).to_have_text("Disabled")
    assert len(questions) == 2 and "503" in questions[1]
    context.close()


def test_an_agent_key_made_in_the_admin_is_shown_once(browser, night):  # noqa: F811
    from playwright.sync_api import expect

    base_url, session, _ = night
    context, page = open_page(browser, base_url, session, PHONE, "es")
    page.goto(f"{base_url}/admin/llmfallback/agentkey/add/")
    page.locator("#id_name").fill("turno-noche")
    page.locator("input[name=_save]").click()
    expect(page.locator("#new-key")).to_have_text(re.compile(r"^d8_"))
    no_sideways_scroll(page, PHONE)
    shot(page, "agent-key-created-phone-es")
    context.close()


def test_error_pages_are_styled_and_lead_back(browser, night):  # noqa: F811
    """404, 405 and a non-staff 403 as a person sees them: the site's style, the way back."""
    base_url, session, _ = night
    visitor = Client()
    visitor.force_login(User.objects.create_user("visitor", password="pw-visitor-123"))
    pages = [
        ("404", session, "/nowhere-at-all", 404),
        ("405", session, "/dashboard/llm/reset-all", 405),
        ("403", visitor.cookies["sessionid"].value, "/dashboard/llm", 403),
    ]
    for device, lang, viewport in VARIANTS:
        for name, cookie, url, status in pages:
            context, page = open_page(browser, base_url, cookie, viewport, lang)
            response = page.goto(f"{base_url}{url}")
            assert response.status == status
            links = page.locator(".error-links a")
            assert links.count() == 3 and links.first.get_attribute("href") == "/dashboard/llm"
            background = page.evaluate("getComputedStyle(document.body).backgroundColor")
            assert background not in ("", "rgba(0, 0, 0, 0)")  # the site's stylesheet applies
            no_sideways_scroll(page, viewport)
            shot(page, f"error-{name}-{device}-{lang}")
            context.close()
