"""Several machines starting at once each run `migrate`, and each migrate ensures the periodic
django-q2 schedules (llmfallback/apps.py). Schedule.name is not unique, so no interleaving may
fail a start, and whatever duplicates a race leaves, the next run removes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tests.scaleout.conftest import ROOT, _setup_database

pytestmark = pytest.mark.multiprocess

PROCESSES = 4
ROUNDS = 25

RACE = """
import os, sys, time; os.environ.setdefault("DJANGO_SETTINGS_MODULE", "d8site.settings")
import django; django.setup()
from django_q.models import Schedule
from llmfallback import services
start = float(sys.argv[1])
time.sleep(max(0.0, start - time.time()))  # every process at the same instant
for _ in range({rounds}):
    Schedule.objects.filter(name="llm-auth-probes").delete()  # each round starts from none
    services.schedules_ensure()
"""

COUNT = """
import json, os; os.environ.setdefault("DJANGO_SETTINGS_MODULE", "d8site.settings")
import django; django.setup()
from django.core.management import call_command
from django_q.models import Schedule
call_command("migrate", interactive=False, verbosity=0)
names = Schedule.objects.filter(name__startswith="llm-").values_list("name", flat=True)
print(json.dumps(sorted(names)))
"""


def test_machines_migrating_at_once_never_fail_and_the_next_start_leaves_one_of_each(
    database_env,
):
    env = os.environ | database_env | {"DJANGO_DEBUG": ""}
    _setup_database(env)  # the tables, once (a fresh database is migrated by one machine first)
    start = time.time() + 3.0  # after every process's Django start-up
    script = RACE.format(rounds=ROUNDS)
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(start)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    failures = []
    for proc in racers:
        _, err = proc.communicate(timeout=120)
        if proc.returncode:
            failures.append(err[-2000:])
    assert not failures, failures[0]

    counted = subprocess.run(
        [sys.executable, "-c", COUNT], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert counted.returncode == 0, counted.stderr
    assert json.loads(counted.stdout.strip().splitlines()[-1]) == [
        "llm-auth-probes",
        "llm-escalation-events-prune",
        "llm-history-prune",
    ]
