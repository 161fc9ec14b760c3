from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from llmfallback.models import AuditEntry, KeyHealth, ProviderHealth


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_llm_health_prints_a_table_in_priority_order(providers, settings):
    settings.LLM_SIMULATED_PROVIDERS = ["groq"]
    KeyHealth.objects.filter(provider__name="gemini").update(
        cooldown_until=timezone.now() + timedelta(seconds=75)
    )
    lines = run("llm_health").splitlines()
    assert lines[0].split()[:3] == ["#", "provider", "state"]
    rows = [line.split() for line in lines[2:5]]
    assert [r[1] for r in rows] == ["groq", "gemini", "deepseek"]
    assert "(simulated)" in lines[2]
    assert "cooling" in lines[3] and "1:1" in lines[3]
    assert any(line.strip().startswith("key gemini/k1: cooling") for line in lines)


def test_llm_reset_resets_one_provider_with_an_audit_entry(providers):
    KeyHealth.objects.filter(provider__name="groq").update(
        cooldown_until=timezone.now() + timedelta(minutes=2)
    )
    assert "Reset groq." in run("llm_reset", "groq")
    assert KeyHealth.objects.get(provider__name="groq").cooldown_until is None
    assert AuditEntry.objects.get().actor.startswith("cli:")


def test_llm_reset_with_nothing_to_reset_writes_nothing(providers):
    assert "groq was not blocked; nothing to reset." in run("llm_reset", "groq")
    assert "0 were blocked" in run("llm_reset", "--all")
    assert not AuditEntry.objects.exists()


def test_llm_reset_all(providers):
    ProviderHealth.objects.update(is_unavailable=True)
    assert "3 were blocked" in run("llm_reset", "--all")
    assert not ProviderHealth.objects.filter(is_unavailable=True).exists()


@pytest.mark.parametrize("args", [("nope",), (), ("groq", "--all")])
def test_llm_reset_refuses_unknown_or_ambiguous_targets(providers, args):
    with pytest.raises(CommandError):
        call_command("llm_reset", *args)
    assert not AuditEntry.objects.exists()


def test_llm_reset_exits_non_zero_for_an_unknown_name(providers):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "manage.py", "llm_reset", "nope"], capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "Unknown provider 'nope'" in result.stderr


def test_llm_health_on_a_fresh_database_lists_providers_in_the_configured_order(db, use_providers):
    assert not ProviderHealth.objects.exists()
    rows = [line.split() for line in run("llm_health").splitlines()[2:5]]
    assert [r[1] for r in rows] == ["groq", "gemini", "deepseek"]
