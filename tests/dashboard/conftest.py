"""Fixtures for the operator's pages: staff and non-staff browsers, provider rows."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from llmfallback.runtime import provider_rows_sync


@pytest.fixture
def providers(db, use_providers):
    """groq, gemini, deepseek pointed at the simulator, with their health rows."""
    provider_rows_sync()
    return ["groq", "gemini", "deepseek"]


@pytest.fixture
def staff(db):
    return User.objects.create_user("ops", password="pw-ops-123", is_staff=True)


@pytest.fixture
def staff_client(staff):
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def user_client(db):
    client = Client()
    client.force_login(User.objects.create_user("someone", password="pw"))
    return client
