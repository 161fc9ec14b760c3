"""Auth probes: a key out for authentication is checked on a non-billed endpoint and readmitted."""

import pytest
from django_q.models import Schedule

from llmfallback import services
from llmfallback.health import probes
from llmfallback.models import AuditEntry, KeyHealth, ProviderHealth

pytestmark = pytest.mark.django_db

KEYS = {
    "groq": ("GROQ_API_KEY", "gsk_probe_secret_aaaaaaaaaaaaaaaa"),
    "gemini": ("GEMINI_API_KEY", "AIza_probe_secret_bbbbbbbbbbbbbbbb"),
    "deepseek": ("DEEPSEEK_API_KEY", "sk-probe-secret-cccccccccccccccc"),
}


def chat(agent):
    return agent.post("/api/llm/chat", {"messages": [{"role": "user", "content": "hi"}]}, "json")


def key_row(provider: str) -> KeyHealth:
    return KeyHealth.objects.get(provider__name=provider, label="k1")


@pytest.fixture
def refused(agent, use_providers, sim):
    """Returns a function: make `provider` first, its key refused, and let a chat mark it out."""

    def refuse(provider: str) -> str:
        env_name, secret = KEYS[provider]
        others = [p for p in KEYS if p != provider]
        use_providers(**{env_name: secret, "LLM_PROVIDER_PRIORITY": ",".join([provider, *others])})
        sim.refuse_keys(secret)
        assert chat(agent).status_code == 200  # served by the next provider
        assert key_row(provider).is_unavailable
        return secret

    return refuse


@pytest.mark.parametrize("provider", ["groq", "gemini", "deepseek"])
def test_a_key_refused_for_auth_is_readmitted_once_the_provider_accepts_it(
    provider, refused, sim, agent
):
    secret = refused(provider)

    chats_before = sim.calls()
    assert probes.auth_probes_run() == {f"{provider}/k1": "refused"}
    assert key_row(provider).is_unavailable  # still refused: it stays out
    assert not AuditEntry.objects.exists()

    sim.refuse_keys()  # the key works again (renewed on the provider's side)
    assert probes.auth_probes_run() == {f"{provider}/k1": "readmitted"}

    assert sim.calls() == chats_before  # probes never chat: no tokens spent
    assert sim.model_calls()[provider] == 2
    assert not key_row(provider).is_unavailable
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.target) == (
        "llmfallback:probe",
        "key_readmitted",
        f"{provider}/k1",
    )
    assert secret not in str(entry.before) + str(entry.after) + entry.note
    assert chat(agent).json()["provider"] == provider  # back in the chain


def test_a_readmitted_key_is_probed_no_more(refused, sim):
    refused("groq")
    sim.refuse_keys()
    probes.auth_probes_run()

    assert probes.auth_probes_run() == {}
    assert sim.model_calls()["groq"] == 1


def test_a_provider_that_cannot_be_reached_leaves_the_key_out(refused, use_providers, sim):
    secret = refused("groq")
    sim.refuse_keys()
    use_providers(GROQ_API_KEY=secret, GROQ_BASE_URL="http://127.0.0.1:9/openai/v1")  # refused

    assert probes.auth_probes_run() == {"groq/k1": "unreachable"}
    assert key_row("groq").is_unavailable
    assert not AuditEntry.objects.exists()


def test_a_disabled_provider_is_not_probed(refused, sim):
    refused("groq")
    sim.refuse_keys()
    ProviderHealth.objects.filter(name="groq").update(is_enabled=False)

    assert probes.auth_probes_run() == {}
    assert sim.model_calls().get("groq", 0) == 0


def test_a_key_out_for_another_reason_is_left_to_humans(use_providers, sim):
    KeyHealth.objects.filter(provider__name="groq").update(
        is_unavailable=True, last_error_type="quota"
    )
    assert probes.auth_probes_run() == {}
    assert sim.model_calls().get("groq", 0) == 0


def test_two_probe_runs_readmitting_together_write_one_audit_entry(refused, sim):
    refused("groq")
    row = KeyHealth.objects.select_related("provider").get(provider__name="groq", label="k1")

    assert probes._readmit(row) is True
    assert probes._readmit(row) is False  # the other run found it readmitted already
    assert AuditEntry.objects.count() == 1


def test_the_probe_schedule_is_created_once_every_five_minutes():
    services.schedules_ensure()
    services.schedules_ensure()

    schedule = Schedule.objects.get(name="llm-auth-probes")
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == (
        "llmfallback.tasks.auth_probes",
        Schedule.MINUTES,
        5,
    )
