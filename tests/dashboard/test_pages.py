"""Login, logout, API docs and the Spanish interface."""

import re

import pytest

from llmfallback.models import ProviderHealth


def test_login_page_logs_a_staff_user_in_and_lands_on_the_dashboard(client, staff, providers):
    page = client.get("/accounts/login/?next=/dashboard/llm")
    assert page.status_code == 200 and 'autocomplete="current-password"' in page.content.decode()
    response = client.post(
        "/accounts/login/", {"username": "ops", "password": "pw-ops-123", "next": "/dashboard/llm"}
    )
    assert response["Location"] == "/dashboard/llm"
    assert client.get("/dashboard/llm").status_code == 200


def test_a_wrong_password_is_reported(client, staff):
    html = client.post("/accounts/login/", {"username": "ops", "password": "nope"}).content.decode()
    assert "didn't match" in html


def test_logout_asks_on_get_and_logs_out_on_post(staff_client, providers):
    assert "You are logged in as ops." in staff_client.get("/accounts/logout/").content.decode()
    response = staff_client.post("/accounts/logout/", follow=True)
    assert response.redirect_chain[-1][0].startswith("/accounts/login/")
    assert "You have been logged out." in response.content.decode()
    assert staff_client.get("/dashboard/llm").status_code == 302


def test_the_root_leads_to_the_dashboard(client):
    assert client.get("/")["Location"] == "/dashboard/llm"


def test_the_api_docs_list_the_endpoints_with_curl_examples(client):
    html = client.get("/docs/api").content.decode()
    for endpoint in (
        "/api/llm/chat",
        "/api/llm/health",
        "/api/llm/providers/groq/reset",
        "/dashboard/llm/data.json",
    ):
        assert endpoint in html
    assert "curl -s http://testserver/api/llm/chat" in html
    assert "llm_reset --all" in html


def test_navigation_links_dashboard_admin_and_docs(staff_client, providers):
    html = staff_client.get("/dashboard/llm").content.decode()
    for href in ('href="/dashboard/llm"', 'href="/admin/"', 'href="/docs/api"'):
        assert href in html


@pytest.mark.parametrize("url", ["/dashboard/llm", "/accounts/logout/"])
def test_the_interface_speaks_spanish_to_a_spanish_browser(staff_client, providers, url):
    html = staff_client.get(url, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert '<html lang="es">' in html
    assert "Cerrar sesión" in html


def test_spanish_dashboard_labels_and_actions(staff_client, providers):
    ProviderHealth.objects.filter(name="gemini").update(is_enabled=False)
    html = staff_client.get("/dashboard/llm", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    for text in (
        "Proveedores LLM",
        "Errores recientes",
        "Registro de auditoría",
        "Deshabilitado",
        "Sano",
        "Reiniciar",
    ):
        assert text in html, text
    response = staff_client.post("/dashboard/llm/providers/groq/reset", HTTP_ACCEPT_LANGUAGE="es")
    assert "¿Reiniciar el enfriamiento de groq?" in response.content.decode()


def test_language_code_setting_picks_the_default_language(client, settings):
    settings.LANGUAGE_CODE = "es"
    assert "Iniciar sesión" in client.get("/accounts/login/").content.decode()


def test_spanish_decimal_commas_never_reach_svg_coordinates(staff_client, providers):
    from django.utils import timezone

    from llmfallback.models import UsageBucket

    minute = timezone.now().replace(second=0, microsecond=0)
    UsageBucket.objects.create(provider="groq", minute=minute, requests=3, h30=3)
    html = staff_client.get("/dashboard/llm", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "<rect" in html or "<circle" in html
    assert not re.search(r'(?:\bx|\by|cx|cy|width|height)="\d+,\d', html)
