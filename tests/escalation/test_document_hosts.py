"""With several hosts, an escalation's document is served from the database by any host, and its
file is a copy on the host the escalation names (issue 25: files were scattered over the hosts'
data directories, and `file_name` did not say which host held one)."""

import json

import pytest

from llmfallback.models import Escalation
from llmfallback.selectors import provider_secrets

pytestmark = pytest.mark.django_db

CHAT = "/api/llm/chat"
SECRET_PROMPT = "my card is 4111"


@pytest.fixture
def escalation(agent, sim, use_providers, settings):
    settings.LLM_HOST_NAME = "host-a"
    for name in ("groq", "gemini", "deepseek"):
        sim.script(name, [{"behavior": "unavailable", "times": -1}])
    agent.post(CHAT, {"messages": [{"role": "user", "content": SECRET_PROMPT}]}, format="json")
    return Escalation.objects.get()


def test_the_file_names_the_host_that_holds_it(escalation, agent):
    listed = agent.get("/api/llm/escalations").json()["results"][0]
    assert listed["file_name"] == escalation.file_name != ""
    assert listed["file_host"] == "host-a"


def test_any_host_serves_the_document_the_file_holds(escalation, operator, llm_data_dir, settings):
    settings.LLM_HOST_NAME = "host-b"  # another host, without the file
    on_disk = json.loads((llm_data_dir / escalation.file_name).read_text())
    (llm_data_dir / escalation.file_name).unlink()
    r = operator.get(f"/api/llm/escalations/{escalation.pk}/document")
    assert r.status_code == 200
    assert r.json() == on_disk
    assert r.json()["messages"][-1]["content"] == SECRET_PROMPT
    assert all(secret not in r.content.decode() for secret in provider_secrets())


def test_agents_may_not_read_the_document_it_holds_other_agents_prompts(escalation, agent):
    r = agent.get(f"/api/llm/escalations/{escalation.pk}/document")
    assert r.status_code == 403
    assert SECRET_PROMPT not in r.content.decode()


def test_an_unknown_escalation_is_a_404(operator):
    assert operator.get("/api/llm/escalations/999/document").status_code == 404
