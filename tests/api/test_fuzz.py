"""Fuzzing drill: schemathesis over /api/schema, every operation, with an agent and an operator key.

Each operation gets valid and invalid requests (bodies, query strings, path parameters) and every
answer must be: no 5xx, JSON (no HTML, no trace), documented in the schema, and free of secrets:
the providers' API keys configured here and the raw agent keys. Scaled for the suite (a few
seconds); raise FUZZ_EXAMPLES for a longer run.
"""

from __future__ import annotations

import json
import os

import pytest
import schemathesis
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from congress.models import Proposal
from d8site.wsgi import application
from llmfallback.access import agent_keys
from llmfallback.models import Escalation

# The WSGI app runs in this thread but outside Django's test client, so its writes must commit.
pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))

# Recognisable fake secrets: finding any of them in an answer is a leak.
PROVIDER_SECRETS = {
    "GROQ_API_KEY": "gsk_FUZZSECRETgroqA1111111111111111,gsk_FUZZSECRETgroqB2222222222222222",
    "GEMINI_API_KEY": "AIzaFUZZSECRETgemini33333333333333333",
    "DEEPSEEK_API_KEY": "sk-FUZZSECRETdeepseek444444444444444",
}
SECRETS = [s for value in PROVIDER_SECRETS.values() for s in value.split(",")]

OPERATIONS = sorted(
    f"{method.upper()} {path}"
    for path, methods in SchemaGenerator().get_schema(public=True)["paths"].items()
    for method in methods
)


def test_the_fuzzed_schema_lists_every_api_endpoint():
    paths = {label.split(" ", 1)[1] for label in OPERATIONS}
    assert len(paths) == 17 and all(p.startswith(("/api/", "/v1/")) for p in paths)


@pytest.fixture
def keys(db):
    """Raw agent and operator keys: the fuzzed requests use them, and no answer may show them."""
    return {
        "agent": agent_keys.agent_key_create(name="fuzz-agent")[1],
        "operator": agent_keys.agent_key_create(name="fuzz-operator", operator=True)[1],
    }


@pytest.fixture
def known_objects(db):
    """Path parameters that exist, so the fuzzer reaches past the 404s too."""
    now = timezone.now()
    proposal = Proposal.objects.create(title="Fuzz", proposed_by="system")
    escalation = Escalation.objects.create(
        number=1, trigger="all_failed", reason="fuzz", opened_at=now, first_seen_at=now,
        last_seen_at=now,
    )  # fmt: skip
    return {"code": proposal.code, "id": escalation.pk, "name": "groq"}


@pytest.mark.parametrize("who", ["agent", "operator"])
@pytest.mark.parametrize("label", OPERATIONS)
def test_fuzzing_finds_no_5xx_no_html_no_trace_and_no_secret(
    label, who, keys, known_objects, use_providers, sim
):
    use_providers(**PROVIDER_SECRETS)
    schema = schemathesis.openapi.from_wsgi("/api/schema", application)
    operation = schema.find_operation_by_label(label)
    known = {k: v for k, v in known_objects.items() if "{" + k + "}" in label}
    strategy = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
        operation.as_strategy(path_parameters=known) if known else st.nothing(),
    )
    headers = {"Authorization": f"Bearer {keys[who]}"}
    secrets = [*SECRETS, *keys.values()]

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,  # the same cases on every run and in CI
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def fuzz(case):
        response = case.call(headers=headers)
        case.validate_response(
            response,
            checks=[
                not_a_server_error,
                status_code_conformance,
                content_type_conformance,
                response_schema_conformance,
            ],
            headers=headers,
        )
        assert_json_without_secrets(
            response.status_code, response.headers, response.content, secrets
        )

    fuzz()


def assert_json_without_secrets(status: int, headers, content: bytes, secrets: list[str]) -> None:
    content_type = headers.get("Content-Type") or headers.get("content-type") or [""]
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    assert content_type.startswith("application/json"), (status, content_type, content[:200])
    json.loads(content)  # parses
    text = content.decode()
    assert "Traceback" not in text and "<html" not in text.lower()
    leaked = [s[:12] for s in secrets if s in text]
    assert not leaked, f"secret(s) starting {leaked} in a {status} answer"


def test_the_answer_check_catches_html_traces_and_leaked_keys():
    json_ct = {"Content-Type": "application/json"}
    with pytest.raises(AssertionError):
        assert_json_without_secrets(500, {"Content-Type": "text/html"}, b"<html></html>", [])
    with pytest.raises(AssertionError):
        assert_json_without_secrets(500, json_ct, b'{"detail": "Traceback (most recent"}', [])
    with pytest.raises(AssertionError, match="gsk_FUZZSECR"):
        assert_json_without_secrets(200, json_ct, json.dumps({"k": SECRETS[1]}).encode(), SECRETS)
    assert_json_without_secrets(200, json_ct, b'{"k": "k1"}', SECRETS)
