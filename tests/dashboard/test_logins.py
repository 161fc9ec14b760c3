"""Staff logins, the admin's and the dashboard's, cannot be guessed: django-axes (d8site/logins.py)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
import time_machine
from axes.models import AccessAttempt, AccessFailureLog
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from llmfallback.access import agent_keys

RIGHT = "right-pw-123"
LOGINS = ["/admin/login/", "/accounts/login/"]  # the admin's and the dashboard's


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_superuser("ops", "ops@example.com", RIGHT)


def log_in(path: str, username: str, password: str, address: str = "10.0.0.1", **extra):
    client = Client()
    response = client.post(
        path, {"username": username, "password": password}, REMOTE_ADDR=address, **extra
    )
    return response, "_auth_user_id" in client.session


@pytest.mark.parametrize("path", LOGINS)
def test_after_five_wrong_passwords_even_the_right_one_is_refused(staff, settings, path):
    for _ in range(5):
        assert log_in(path, "ops", "guess")[1] is False
    response, logged_in = log_in(path, "ops", RIGHT)
    assert (response.status_code, logged_in) == (429, False)
    assert "Too many failed logins" in response.content.decode()
    failures = AccessFailureLog.objects.filter(username="ops")
    assert (failures.count(), failures.filter(locked_out=True).count()) == (6, 2)  # the fifth locks


def test_one_address_guessing_many_usernames_is_locked_out(staff):
    for n in range(5):
        log_in("/accounts/login/", f"user{n}", "guess", address="10.0.0.9")
    assert log_in("/accounts/login/", "ops", RIGHT, address="10.0.0.9")[1] is False
    assert log_in("/accounts/login/", "ops", RIGHT, address="10.0.0.10")[1] is True


def test_one_username_guessed_from_many_addresses_is_locked_out(staff):
    for n in range(5):
        log_in("/admin/login/", "ops", "guess", address=f"10.0.1.{n}")
    assert log_in("/admin/login/", "ops", RIGHT, address="10.0.2.1")[1] is False


def test_the_lockout_ends_after_its_time_and_a_few_mistakes_lock_nothing(staff):
    with time_machine.travel("2026-01-01 12:00Z", tick=False) as clock:
        for _ in range(4):
            log_in("/accounts/login/", "ops", "guess")
        assert log_in("/accounts/login/", "ops", RIGHT)[1] is True  # four mistakes: still in
        log_in("/accounts/login/", "ops", "guess")
        assert log_in("/accounts/login/", "ops", RIGHT)[1] is False
        clock.shift(timedelta(seconds=901))
        assert log_in("/accounts/login/", "ops", RIGHT)[1] is True


def test_an_operator_unlocks_an_account_with_one_command(staff):
    for _ in range(5):
        log_in("/admin/login/", "ops", "guess", address="10.0.0.1")
    call_command("axes_reset_username", "ops")
    call_command("axes_reset_ip", "10.0.0.1")
    assert log_in("/admin/login/", "ops", RIGHT, address="10.0.0.1")[1] is True


def test_behind_the_proxy_the_address_it_saw_counts_not_one_the_caller_forged(staff, settings):
    settings.BEHIND_TLS_PROXY = True
    proxy = "10.9.9.9"  # REMOTE_ADDR is the proxy for everyone
    for n in range(5):  # an attacker rotating a forged first entry
        forwarded = f"192.0.2.{n}, 203.0.113.7"
        log_in("/accounts/login/", f"user{n}", "guess", proxy, HTTP_X_FORWARDED_FOR=forwarded)
    attacker = "198.51.100.1, 203.0.113.7"
    assert not log_in("/accounts/login/", "ops", RIGHT, proxy, HTTP_X_FORWARDED_FOR=attacker)[1]
    colleague = "203.0.113.8"  # another client behind the same proxy is not locked out
    assert log_in("/accounts/login/", "ops", RIGHT, proxy, HTTP_X_FORWARDED_FOR=colleague)[1]


def test_failed_logins_are_logged_without_the_password_and_shown_in_the_admin(staff, caplog):
    with caplog.at_level(logging.INFO):
        log_in("/admin/login/", "ops", "secret-guess-1")
    failures = [r.getMessage() for r in caplog.records if r.name.startswith("axes")]
    assert any("ops" in m and "10.0.0.1" in m for m in failures)
    assert "secret-guess-1" not in caplog.text
    admin = Client()
    admin.force_login(staff)
    for page in ("/admin/axes/accessattempt/", "/admin/axes/accessfailurelog/"):
        html = admin.get(page).content.decode()
        assert "10.0.0.1" in html


def test_agent_keys_401s_are_cheap_logged_and_lock_no_one_out(staff, caplog):
    """Wrong agent keys are not logins: no lockout row, no lockout, one log line each."""
    _, raw = agent_keys.agent_key_create(name="bot")
    api = Client(REMOTE_ADDR="10.0.0.1")
    with caplog.at_level(logging.WARNING, logger="django.request"):
        for n in range(30):
            bad = {"HTTP_AUTHORIZATION": f"Bearer d8_wrong{n}"}
            assert api.get("/api/llm/health", **bad).status_code == 401
            assert (
                api.post("/v1/chat/completions", {}, "application/json", **bad).status_code == 401
            )
    assert len([r for r in caplog.records if "Unauthorized" in r.getMessage()]) == 60
    assert "d8_wrong" not in caplog.text
    assert not AccessAttempt.objects.exists()
    assert api.get("/api/llm/health", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    assert log_in("/accounts/login/", "ops", RIGHT, address="10.0.0.1")[1] is True
