"""403, 404, 405 and 500 on the pages are styled, say what happened and lead back; the APIs
keep their JSON errors."""

import pytest
from django.test import Client


@pytest.fixture
def strict(client):
    client.raise_request_exception = False
    return client


def test_a_signed_in_user_who_is_not_staff_gets_a_styled_403(user_client):
    r = user_client.get("/dashboard/llm")
    html = r.content.decode()
    assert r.status_code == 403
    assert 'href="/dashboard/llm"' in html and "dashboard.css" in html
    assert "You are signed in as someone, which is not a staff account." in html


def test_an_unknown_page_is_a_styled_404_and_an_unknown_api_url_stays_json(client, db):
    r = client.get("/nowhere")
    assert r.status_code == 404 and "There is no page here" in r.content.decode()
    assert 'href="/docs/api"' in r.content.decode()
    assert client.get("/api/llm/nowhere").json()["detail"]


def test_a_page_opened_with_the_wrong_method_is_a_styled_405(staff_client, providers):
    r = staff_client.get("/dashboard/llm/reset-all")
    assert r.status_code == 405 and r["Allow"] == "POST"
    assert "does not take that kind of request" in r.content.decode()
    assert 'href="/dashboard/llm"' in r.content.decode()


def test_the_404_speaks_spanish(client, db):
    html = client.get("/nowhere", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Aquí no hay ninguna página" in html


def test_a_server_error_page_is_styled(db, settings):
    from django.urls import path

    from d8site import urls

    def boom(request):
        raise RuntimeError("boom")

    settings.DEBUG = False
    urls.urlpatterns.insert(0, path("boom-test", boom))
    try:
        client = Client(raise_request_exception=False)
        r = client.get("/boom-test")
    finally:
        urls.urlpatterns.pop(0)
    assert r.status_code == 500 and "Something went wrong on our side" in r.content.decode()
    assert "boom" not in r.content.decode()
