"""Every `serve` run says how to log in; only the first shows a password."""

from io import StringIO

from llmfallback.management.commands.serve import Command


def first_run_output() -> str:
    command = Command(stdout=StringIO())
    command._first_run_credentials()
    return command.stdout.getvalue()


def test_later_runs_print_the_login_and_how_to_set_a_new_password(db):
    first = first_run_output()
    assert "Created staff user 'admin' with password:" in first
    later = first_run_output()
    assert "password:" not in later
    assert "Log in as 'admin'" in later
    assert "python manage.py changepassword admin" in later


def test_later_runs_say_how_to_get_a_new_agent_key(db):
    first = first_run_output()
    assert "Created operator agent key 'demo': d8_" in first
    later = first_run_output()
    assert "d8_" not in later
    assert "python manage.py agent_key create NAME" in later
