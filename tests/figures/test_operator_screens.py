"""What the operator's pages say: labelled key errors, the table hint, the favicon."""

import re

from django.contrib.staticfiles import finders
from django.utils import timezone

from llmfallback.models import ErrorEvent, KeyHealth


def card(html: str, name: str) -> str:
    start = html.index(f'id="card-{name}"')
    return html[start : html.index("</article>", start)]


def test_a_healthy_key_with_a_past_error_labels_the_error_class(staff_client, providers):
    KeyHealth.objects.filter(provider__name="groq").update(last_error_type="rate_limit")
    groq = card(staff_client.get("/dashboard/llm").content.decode(), "groq")
    keys = groq[groq.index('class="keys"') :]
    assert "Healthy" in keys
    assert "last error: <code>rate_limit</code>" in keys


def test_wide_tables_sit_in_a_labelled_scroll_box_with_a_hint(staff_client, providers):
    ErrorEvent.objects.create(
        created_at=timezone.now(), provider="groq", error_type="timeout", message="slow"
    )
    html = staff_client.get("/dashboard/llm").content.decode()
    errors = html[html.index('id="errors"') :]
    assert 'class="scroll-hint"' in errors
    assert re.search(
        r'class="scroll" tabindex="0" role="region" aria-label="Recent errors"', errors
    )


def test_every_page_links_a_favicon_shipped_in_static(client, db):
    html = client.get("/accounts/login/").content.decode()
    href = re.search(r'<link rel="icon" href="([^"]+)"', html).group(1)
    assert href.endswith("llmfallback/favicon.svg") and not href.startswith("http")
    assert finders.find("llmfallback/favicon.svg")


def test_the_spanish_pages_translate_the_new_words(staff_client, providers):
    KeyHealth.objects.filter(provider__name="groq").update(last_error_type="rate_limit")
    ErrorEvent.objects.create(
        created_at=timezone.now(), provider="groq", error_type="timeout", message="slow"
    )
    html = staff_client.get("/dashboard/llm", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "último error: <code>rate_limit</code>" in html
    assert "Desliza hacia el lado para ver todas las columnas" in html
    assert "pico por minuto" in html and "total:" in html
