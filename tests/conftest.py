"""Shared fixtures: the provider simulator over loopback, providers pointed at it, API clients."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from llmfallback import services
from llmfallback.providers.config import parse_provider_configs


@pytest.fixture(scope="session")
def simulator():
    """One loopback simulator for the whole run: (base_url, control). Reset before each use."""
    from llmfallback.simulator.control import running_simulator

    with running_simulator(port=0) as (base_url, control):
        yield base_url, control


@pytest.fixture
def sim(simulator):
    """The simulator's control client, with scripts and counters cleared."""
    _, control = simulator
    control.reset()
    yield control
    control.reset()


def provider_env(base_url: str, **overrides) -> dict:
    from llmfallback.simulator.control import simulator_env

    return simulator_env(base_url) | overrides


@pytest.fixture
def use_providers(settings, simulator):
    """Point the gateway at the simulator; call with env overrides to change providers or keys."""
    base_url, _ = simulator

    def configure(**env):
        settings.LLM_PROVIDERS = parse_provider_configs(provider_env(base_url, **env))
        services.runtime_reset()

    settings.LLM_DEADLINE_S = 10.0
    settings.LLM_READ_TIMEOUT_S = 5.0
    configure()
    yield configure
    services.runtime_reset()


@pytest.fixture
def agent(db):
    """An APIClient authenticated with a fresh agent key."""
    _, raw = services.agent_key_create(name="test-agent")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def operator(db):
    """An APIClient authenticated with an operator key."""
    _, raw = services.agent_key_create(name="test-operator", operator=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture(autouse=True)
def llm_data_dir(settings, tmp_path):
    """Escalation JSON files go to a temporary folder; the open-escalation flag starts unset."""
    from django.core.cache import cache

    settings.LLM_DATA_DIR = tmp_path / "llm_data"
    cache.delete("llm:open_escalation")
    return settings.LLM_DATA_DIR
