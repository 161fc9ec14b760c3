"""The dashboard in a real browser: headless Chromium driven by Playwright against live_server.

Screenshots of each state go to test-artifacts/ (gitignored) for a human to look at.
"""

import os
import re
import shutil
from pathlib import Path

import httpx
import pytest
from django.contrib.auth.models import User

from llmfallback.access import agent_keys
from llmfallback.runtime import provider_rows_sync

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.same_on_any_database,
    pytest.mark.django_db(transaction=True),
]

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser():
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install Debian's package "
            "(apt-get install -y chromium) or set CHROMIUM_PATH. .ci/run installs it."
        )
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    # Playwright's sync API keeps an event loop on this thread between calls; Django would take
    # the test's own (synchronous) ORM calls for async code. They are not: allow them.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def gateway(live_server, use_providers, sim):
    """The live service pointed at the simulator, a staff account and an agent key."""
    provider_rows_sync()
    User.objects.create_user("ops", password="pw-ops-123", is_staff=True)
    _, raw = agent_keys.agent_key_create(name="e2e-agent")
    return live_server.url, raw


def log_in(page, base_url):
    page.goto(f"{base_url}/dashboard/llm")
    assert "/accounts/login/" in page.url
    page.get_by_label("Username").fill("ops")
    page.get_by_label("Password").fill("pw-ops-123")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/dashboard/llm$"))


def chat(base_url, key):
    response = httpx.post(
        f"{base_url}/api/llm/chat",
        headers={"Authorization": f"Bearer {key}"},
        json={"messages": [{"role": "user", "content": "hello"}], "max_tokens": 20},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()


def shot(page, name):
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_rate_limited_primary_cools_down_counts_down_and_resets(browser, gateway, sim):
    from playwright.sync_api import expect

    base_url, key = gateway
    context = browser.new_context(viewport=DESKTOP, locale="en-US")
    page = context.new_page()
    log_in(page, base_url)
    groq = page.locator("#card-groq")
    expect(groq.get_by_test_id("state")).to_have_text("Healthy")
    shot(page, "01-healthy-desktop")

    sim.script("groq", [{"behavior": "rate_limit", "retry_after": 120, "times": -1}])
    assert chat(base_url, key)["provider"] != "groq"  # another provider answered

    # No reload: the page's script fetches data.json every few seconds.
    expect(groq.get_by_test_id("state")).to_have_text("Cooling down", timeout=15_000)
    countdown = groq.locator(".cooldown .countdown")
    expect(countdown).to_have_text(re.compile(r"^[12]:\d\d$"))
    first = countdown.inner_text()
    page.wait_for_timeout(2100)
    assert countdown.inner_text() != first, "the countdown should tick every second"
    expect(groq).to_contain_text("rate_limit")
    shot(page, "02-cooling-desktop")

    phone = browser.new_context(
        viewport=PHONE, storage_state=context.storage_state(), is_mobile=True
    )
    phone_page = phone.new_page()
    phone_page.goto(f"{base_url}/dashboard/llm")
    expect(phone_page.locator("#card-groq").get_by_test_id("state")).to_have_text("Cooling down")
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the phone layout scrolls sideways ({width}px)"
    shot(phone_page, "03-cooling-phone")
    phone.close()

    page.once("dialog", lambda dialog: dialog.accept())
    groq.get_by_role("button", name="Reset groq").click()
    page.wait_for_load_state()
    expect(page.locator("#card-groq").get_by_test_id("state")).to_have_text("Healthy")
    expect(page.get_by_role("status")).to_contain_text("Reset groq.")
    expect(page.locator("#audit")).to_contain_text("provider_reset")
    shot(page, "04-after-reset-desktop")
    context.close()


def test_dismissing_the_confirm_dialog_changes_nothing(browser, gateway):
    from playwright.sync_api import expect

    base_url, _ = gateway
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    log_in(page, base_url)
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.locator("#card-gemini").get_by_role("button", name="Disable gemini").click()
    page.wait_for_timeout(300)
    expect(page.locator("#card-gemini").get_by_test_id("state")).to_have_text("Healthy")
    context.close()


def test_without_javascript_actions_confirm_on_their_own_page(browser, gateway, sim):
    from playwright.sync_api import expect

    base_url, key = gateway
    context = browser.new_context(viewport=DESKTOP, java_script_enabled=False)
    page = context.new_page()
    log_in(page, base_url)
    sim.script("groq", [{"behavior": "rate_limit", "retry_after": 120, "times": -1}])
    chat(base_url, key)
    page.reload()
    expect(page.locator("#card-groq").get_by_test_id("state")).to_have_text("Cooling down")
    page.locator("#card-groq").get_by_role("button", name="Reset groq").click()
    expect(page.get_by_role("heading", name="Please confirm")).to_be_visible()
    shot(page, "05-confirm-no-js")
    page.get_by_role("button", name="Yes, do it").click()
    expect(page.locator("#card-groq").get_by_test_id("state")).to_have_text("Healthy")
    context.close()


def test_the_dashboard_speaks_spanish_to_a_spanish_browser(browser, gateway):
    from playwright.sync_api import expect

    base_url, _ = gateway
    context = browser.new_context(viewport=PHONE, locale="es-ES", is_mobile=True)
    page = context.new_page()
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Usuario").fill("ops")
    page.get_by_label("Contraseña").fill("pw-ops-123")
    page.get_by_role("button", name="Iniciar sesión").click()
    expect(page.get_by_role("heading", name="Proveedores LLM")).to_be_visible()
    expect(page.locator("#card-groq").get_by_test_id("state")).to_have_text("Sano")
    shot(page, "06-spanish-phone")
    context.close()


def test_on_a_phone_wide_tables_scroll_sideways_with_a_hint_and_the_tab_has_an_icon(
    browser, gateway, sim
):
    from playwright.sync_api import expect

    base_url, key = gateway
    sim.script("groq", [{"behavior": "rate_limit", "retry_after": 120, "times": -1}])
    chat(base_url, key)  # one row in the recent errors, and a key with a last error
    context = browser.new_context(viewport=PHONE, is_mobile=True, locale="en-US")
    page = context.new_page()
    log_in(page, base_url)

    errors = page.locator("#errors .scroll")
    expect(page.locator("#errors .scroll-hint")).to_be_visible()
    expect(page.locator("#errors .scroll-hint")).to_contain_text("Swipe sideways")
    sizes = errors.evaluate("el => [el.scrollWidth, el.clientWidth]")
    assert sizes[0] > sizes[1], f"the table should overflow its box and scroll: {sizes}"
    errors.evaluate("el => { el.scrollLeft = 10000; }")
    assert errors.evaluate("el => el.scrollLeft") > 0, "the table box scrolls sideways"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # The last column (the message) is reachable by scrolling, not cut off.
    expect(errors.locator("td.msg").first).to_be_visible()
    shot(page, "07-table-scrolls-phone")

    # A key that failed is not "Healthy rate_limit": its error class has a label.
    expect(page.locator("#card-groq .keys")).to_contain_text("last error: rate_limit")

    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert httpx.get(f"{base_url}{icon}", timeout=10).status_code == 200
    context.close()
