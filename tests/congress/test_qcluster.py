"""One remedy carried out by a real `manage.py qcluster` process: the embedded set-up (SQLite, the
ORM broker) and the scale-out one (PostgreSQL, the Redis broker)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 25

APPROVE = """
import django; django.setup()
from congress import services
from llmfallback.models import ProviderHealth
ProviderHealth.objects.create(name="groq")
ProviderHealth.objects.create(name="gemini")  # disabling the last enabled provider is refused
p = services.proposal_create(title="t", proposed_by="agent:a", open_voting=True,
                             remedy="provider_disable", remedy_args={"provider": "groq"})
services.proposal_transition(proposal=p, to="approved", by="user:alice")
print(p.pk)
"""

STATUS = """
import django, sys; django.setup()
from congress.models import Proposal
from llmfallback.models import AuditEntry, ProviderHealth
print(Proposal.objects.get(pk=int(sys.argv[1])).status, ProviderHealth.objects.get(name="groq").is_enabled,
      AuditEntry.objects.filter(action="provider_disable", actor="user:alice").count())
"""


def run(env, code, *args) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.multiprocess
def test_a_real_cluster_carries_out_an_approved_remedy(tmp_path, database_env):
    env = (
        os.environ
        | database_env
        | {
            "SQLITE_PATH": str(tmp_path / "db.sqlite3"),
            "LLM_DATA_DIR": str(tmp_path / "data"),
            "DJANGO_SETTINGS_MODULE": "d8site.settings",
            "Q_SYNC": "false",
            "Q_WORKERS": "1",
        }
    )
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=60
    )
    pk = run(env, APPROVE)
    assert run(env, STATUS, pk).startswith("approved True")  # queued, not yet run
    cluster = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + WAIT_S
        status = ""
        while time.monotonic() < deadline and not status.startswith("implemented"):
            time.sleep(0.5)  # waiting on another process; there is no clock to inject here
            status = run(env, STATUS, pk)
    finally:
        cluster.terminate()
        cluster.wait(timeout=15)
    assert status == "implemented False 1"
