"""Health rows follow the configuration: a new key starts clean, a reordered priority wins."""

import pytest

from llmfallback.models import KeyHealth, ProviderHealth
from llmfallback.providers.config import parse_provider_configs
from llmfallback.runtime import provider_rows_sync

pytestmark = pytest.mark.django_db

ENV = {
    "GROQ_API_KEY": "gsk_one_aaaaaaaaaaaa",
    "GEMINI_API_KEY": "AIza_one_bbbbbbbbb",
    "DEEPSEEK_BASE_URL": "http://x",
}


def sync(settings, **env):
    settings.LLM_PROVIDERS = parse_provider_configs(ENV | env)
    provider_rows_sync()


def order():
    return list(ProviderHealth.objects.order_by("priority").values_list("name", flat=True))


def test_a_replaced_key_is_no_longer_unavailable(settings):
    sync(settings)
    KeyHealth.objects.filter(label="k1", provider__name="groq").update(is_unavailable=True)
    sync(settings)
    assert KeyHealth.objects.get(label="k1", provider__name="groq").is_unavailable
    sync(settings, GROQ_API_KEY="gsk_two_cccccccccccc")
    assert not KeyHealth.objects.get(label="k1", provider__name="groq").is_unavailable


def test_fingerprints_are_not_the_secret(settings):
    sync(settings)
    fingerprint = KeyHealth.objects.get(provider__name="groq").fingerprint
    assert fingerprint and fingerprint not in ENV["GROQ_API_KEY"]


def test_operators_order_survives_a_restart_but_a_new_configured_order_wins(settings):
    sync(settings)
    ProviderHealth.objects.filter(name="groq").update(priority=5)
    sync(settings)
    assert order() == ["gemini", "deepseek", "groq"]
    sync(settings, LLM_PROVIDER_PRIORITY="deepseek,groq,gemini")
    assert order() == ["deepseek", "groq", "gemini"]
