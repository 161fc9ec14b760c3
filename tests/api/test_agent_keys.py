"""Agent keys live in one module that knows nothing of services: no import circle to break."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from llmfallback.access import agent_keys
from llmfallback.models import AgentKey

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-level imports included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            names |= {base} | {f"{base}.{a.name}".replace("..", ".") for a in node.names}
    return names


def test_agent_keys_does_not_import_services():
    names = imported_modules(ROOT / "llmfallback" / "access" / "agent_keys.py")
    assert not any("services" in n for n in names), names


def test_services_does_not_import_agent_keys():
    names = imported_modules(ROOT / "llmfallback" / "services.py")
    assert not any("agent_keys" in n or n.endswith(".auth") for n in names), names


def test_the_old_auth_module_is_gone():
    assert not (ROOT / "llmfallback" / "auth.py").exists()


@pytest.mark.django_db
def test_a_created_key_is_stored_only_as_its_hash():
    key, raw = agent_keys.agent_key_create(name="bot")
    row = AgentKey.objects.get(pk=key.pk)
    assert row.key_hash == agent_keys.key_hash(raw) != raw
    assert raw.startswith(row.prefix) and len(row.prefix) < len(raw) // 3
    assert agent_keys.agent_for_key(raw) == row


@pytest.mark.django_db
def test_a_revoked_key_no_longer_authenticates_and_revoking_twice_reports_nothing():
    _, raw = agent_keys.agent_key_create(name="bot")
    assert agent_keys.agent_for_key(raw) is not None  # now remembered by this worker
    assert agent_keys.agent_key_revoke(name="bot") is True
    assert agent_keys.agent_for_key(raw) is None
    assert agent_keys.agent_key_revoke(name="bot") is False
