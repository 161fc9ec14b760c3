"""The OpenAPI schema and its docs pages: public, local (no CDN), never a secret."""

import json
import re

import pytest
import yaml
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db

SECRET = "gsk_SCHEMASECRET0000000000000000000"


def test_the_schema_is_public_json_and_lists_every_api_endpoint(client):
    r = client.get("/api/schema")
    assert r.status_code == 200 and "json" in r["Content-Type"]
    schema = json.loads(r.content)
    assert {
        "/api/llm/chat",
        "/api/llm/health",
        "/api/llm/providers/{name}/reset",
        "/api/llm/providers/{name}/{action}",
        "/api/llm/escalations",
        "/api/llm/escalations/{id}",
        "/api/llm/escalations/{id}/document",
        "/api/congress/proposals",
        "/api/congress/proposals/{code}",
        "/api/congress/proposals/{code}/votes",
        "/api/congress/proposals/{code}/transition",
        "/v1/chat/completions",
        "/v1/messages",
        "/v1/messages/count_tokens",
        "/v1/responses",
        "/v1/models",
        "/v1/models/{model}",
    } == set(schema["paths"])
    assert schema["components"]["securitySchemes"]["agentKey"]["scheme"] == "bearer"


def test_the_schema_is_also_served_as_yaml(client):
    r = client.get("/api/schema?format=yaml")
    assert r.status_code == 200
    assert yaml.safe_load(r.content)["info"]["title"] == "d8 LLM Fallback API"


def test_a_bad_key_does_not_hide_the_public_schema(client):
    assert client.get("/api/schema", HTTP_AUTHORIZATION="Bearer wrong").status_code == 200


def test_the_schema_shows_no_configured_secret(client, use_providers):
    use_providers(GROQ_API_KEY=SECRET)
    assert SECRET not in client.get("/api/schema").content.decode()


def test_the_chat_schema_documents_strict_input_and_its_answers(client):
    schema = json.loads(client.get("/api/schema").content)
    chat = schema["paths"]["/api/llm/chat"]["post"]
    assert {"200", "400", "401", "413", "415", "503"} <= set(chat["responses"])
    ref = chat["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    chat_input = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert chat_input["additionalProperties"] is False and "stream" in chat_input["properties"]


def test_swagger_ui_loads_everything_from_our_own_static_files(client):
    r = client.get("/docs/api/swagger")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/html")
    html = r.content.decode()
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls and all(u.startswith("/static/drf_spectacular_sidecar/") for u in urls), urls
    assert "//" not in " ".join(urls) and 'url: "/api/schema"' in html


def test_the_sidecar_ships_the_files_the_page_loads(client):
    html = client.get("/docs/api/swagger").content.decode()
    for url in re.findall(r'(?:src|href)="/static/([^"]+)"', html):
        assert finders.find(url), url


def test_the_api_docs_page_links_the_schema_and_its_pages(client):
    html = client.get("/docs/api").content.decode()
    for href in (
        'href="/api/schema"',
        'href="/api/schema?format=yaml"',
        'href="/docs/api/swagger"',
    ):
        assert href in html
