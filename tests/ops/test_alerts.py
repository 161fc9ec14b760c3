"""Alerts: each service's real request shape, retries with backoff, one per incident, no secrets."""

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from llmfallback.core.errors import AllProvidersFailed
from llmfallback.core.types import Attempt
from llmfallback.models import AlertDelivery
from llmfallback.ops import alerts

pytestmark = pytest.mark.django_db

TOKEN = "123456:AAH-bot-token-secret"
HOOK_SECRET = "whsec-test-0123456789"
PROVIDER_SECRET = "gsk_providersecret0123456789"


class Receiver(ThreadingHTTPServer):
    """A loopback stand-in for Telegram, Slack and a webhook: records requests, answers `replies`."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests, self.replies = [], []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append((self.path, dict(self.headers), body))
        status, reply = self.server.replies.pop(0) if self.server.replies else (200, '{"ok":true}')
        data = reply.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def channels(settings, receiver):
    """Every channel on, pointed at the receiver; no real sleeps between attempts."""
    settings.LLM_ALERT_TELEGRAM_BOT_TOKEN = TOKEN
    settings.LLM_ALERT_TELEGRAM_CHAT_ID = "-100777"
    settings.LLM_ALERT_TELEGRAM_API_BASE = receiver.url
    settings.LLM_ALERT_SLACK_WEBHOOK_URL = f"{receiver.url}/services/T0/B0/slacksecretpath"
    settings.LLM_ALERT_WEBHOOK_URL = f"{receiver.url}/hooks/d8"
    settings.LLM_ALERT_WEBHOOK_SECRET = HOOK_SECRET
    settings.LLM_ALERT_BACKOFF_S = 2.0
    settings.LLM_ALERT_ATTEMPTS = 4
    return receiver


@pytest.fixture
def sync_q(settings, monkeypatch):
    """django-q2 runs tasks inline; its Conf reads Q_CLUSTER once at import, so patch it too."""
    from django_q.conf import Conf

    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}
    monkeypatch.setattr(Conf, "SYNC", True)


def only(settings, channel):
    if channel != "telegram":
        settings.LLM_ALERT_TELEGRAM_BOT_TOKEN = ""
    if channel != "slack":
        settings.LLM_ALERT_SLACK_WEBHOOK_URL = ""
    if channel != "webhook":
        settings.LLM_ALERT_WEBHOOK_URL = ""


def raise_and_send(django_capture_on_commit_callbacks, **alert):
    with django_capture_on_commit_callbacks(execute=True):
        return alerts.alert_raise(**alert)


def test_telegram_gets_a_bot_api_send_message(
    channels, settings, sync_q, django_capture_on_commit_callbacks
):
    only(settings, "telegram")
    raise_and_send(
        django_capture_on_commit_callbacks, kind="all_down", incident="i1", text="a <b> & c"
    )
    [(path, headers, body)] = channels.requests
    assert path == f"/bot{TOKEN}/sendMessage"
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {
        "chat_id": "-100777",
        "text": "a &lt;b&gt; &amp; c",  # HTML parse mode: our text is never markup
        "parse_mode": "HTML",
        "disable_web_page_preview": True,
    }
    delivery = AlertDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.channel) == ("sent", 1, "telegram")
    assert delivery.sent_at is not None


def test_slack_gets_an_incoming_webhook_text(
    channels, settings, sync_q, django_capture_on_commit_callbacks
):
    only(settings, "slack")
    raise_and_send(
        django_capture_on_commit_callbacks, kind="all_down", incident="i1", text="down <x>"
    )
    [(path, headers, body)] = channels.requests
    assert path == "/services/T0/B0/slacksecretpath"
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"text": "down &lt;x&gt;"}


def test_the_webhook_signature_verifies_with_the_secret(
    channels, settings, sync_q, django_capture_on_commit_callbacks
):
    only(settings, "webhook")
    raise_and_send(
        django_capture_on_commit_callbacks, kind="key_auth", incident="groq/k1", text="key out"
    )
    [(path, headers, body)] = channels.requests
    assert path == "/hooks/d8"
    ts = headers["X-D8-Timestamp"]
    # What a receiver does, written out independently of the sender's code.
    expected = hmac.new(HOOK_SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert headers["X-D8-Signature"] == f"sha256={expected}"
    assert json.loads(body)["kind"] == "key_auth" and json.loads(body)["text"] == "key out"
    sig = headers["X-D8-Signature"]
    now = int(ts)
    assert alerts.webhook_verify(HOOK_SECRET, timestamp=ts, signature=sig, body=body, now=now)
    assert not alerts.webhook_verify(
        HOOK_SECRET, timestamp=ts, signature=sig, body=body + b" ", now=now
    )
    assert not alerts.webhook_verify("other", timestamp=ts, signature=sig, body=body, now=now)
    # A replay with a fresh timestamp fails the signature; with the old one, the age check.
    assert not alerts.webhook_verify(
        HOOK_SECRET, timestamp=str(now + 1), signature=sig, body=body, now=now
    )
    assert not alerts.webhook_verify(
        HOOK_SECRET, timestamp=ts, signature=sig, body=body, now=now + 301
    )


def test_a_webhook_without_a_secret_is_never_sent_unsigned(channels, settings):
    only(settings, "webhook")
    settings.LLM_ALERT_WEBHOOK_SECRET = ""
    assert alerts.alert_raise(kind="all_down", incident="i1", text="x") == 0
    assert not AlertDelivery.objects.exists()


def pending(settings, channel="telegram"):
    only(settings, channel)
    alerts.alert_raise(kind="all_down", incident="i1", text="down")
    return AlertDelivery.objects.get()


def test_a_500_is_retried_with_exponential_backoff_until_delivered(channels, settings):
    delivery = pending(settings)
    channels.replies = [(500, "oops"), (502, "bad gateway")]
    sleeps = []
    assert alerts.alert_deliver(delivery_id=delivery.pk, sleep=sleeps.append) == "sent"
    assert sleeps == [2.0, 4.0]
    assert len(channels.requests) == 3
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 3, "")


def test_attempts_are_bounded_and_the_error_kept_without_the_token(channels, settings, caplog):
    delivery = pending(settings)
    # A hostile or careless upstream echoes the URL, and with it the bot token.
    channels.replies = [(503, f"unavailable at /bot{TOKEN}/sendMessage")] * 4
    sleeps = []
    assert alerts.alert_deliver(delivery_id=delivery.pk, sleep=sleeps.append) == "failed"
    assert sleeps == [2.0, 4.0, 8.0]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 4)
    assert delivery.last_error.startswith("HTTP 503") and TOKEN not in delivery.last_error
    assert TOKEN not in caplog.text


def test_a_4xx_is_our_configuration_and_not_retried(channels, settings):
    delivery = pending(settings)
    channels.replies = [(400, '{"ok":false,"description":"Bad Request: chat not found"}')]
    sleeps = []
    assert alerts.alert_deliver(delivery_id=delivery.pk, sleep=sleeps.append) == "failed"
    assert sleeps == [] and len(channels.requests) == 1
    assert "chat not found" in AlertDelivery.objects.get().last_error


def test_an_unreachable_receiver_is_retried_and_the_error_names_no_token(settings):
    settings.LLM_ALERT_TELEGRAM_BOT_TOKEN = TOKEN
    settings.LLM_ALERT_TELEGRAM_CHAT_ID = "1"
    settings.LLM_ALERT_TELEGRAM_API_BASE = "http://127.0.0.1:9"  # discard port: refused
    delivery = pending(settings)
    sleeps = []
    assert alerts.alert_deliver(delivery_id=delivery.pk, sleep=sleeps.append) == "failed"
    delivery.refresh_from_db()
    assert delivery.attempts == 4 and len(sleeps) == 3
    assert "ConnectError" in delivery.last_error and TOKEN not in delivery.last_error


def test_a_sent_delivery_is_never_sent_again(channels, settings):
    delivery = pending(settings)
    assert alerts.alert_deliver(delivery_id=delivery.pk, sleep=lambda s: None) == "sent"
    assert alerts.alert_deliver(delivery_id=delivery.pk, sleep=lambda s: None) == "skipped"
    assert len(channels.requests) == 1


def test_one_alert_per_incident_and_kind_and_a_new_incident_alerts_again(channels):
    assert alerts.alert_raise(kind="all_down", incident="down-since:a", text="x") == 3
    assert alerts.alert_raise(kind="all_down", incident="down-since:a", text="x") == 0
    assert alerts.alert_raise(kind="key_auth", incident="down-since:a", text="x") == 3
    assert alerts.alert_raise(kind="all_down", incident="down-since:b", text="x") == 3
    assert AlertDelivery.objects.count() == 9


def test_a_worker_that_loses_the_race_after_the_exists_check_records_nothing(channels, monkeypatch):
    """The interleaving two workers produce, made deterministic: worker A has passed the cheap
    exists() check when worker B records the incident; A's inserts then meet the constraint."""
    real_redact, results = alerts.redact, []

    def b_gets_in_first(text, secrets):
        if not results:
            results.append("B")
            results.append(alerts.alert_raise(kind="all_down", incident="race", text="down"))
        return real_redact(text, secrets)

    monkeypatch.setattr(alerts, "redact", b_gets_in_first)
    a = alerts.alert_raise(kind="all_down", incident="race", text="down")
    assert (results, a) == (["B", 3], 0)
    assert AlertDelivery.objects.filter(incident="race").count() == 3


@pytest.mark.django_db(transaction=True)
def test_two_workers_raising_the_same_incident_at_once_record_it_once(
    channels, monkeypatch, caplog
):
    """Two threads, two connections, both past the exists() check: the constraint decides."""
    from django.db import connection

    if connection.vendor == "sqlite":
        pytest.skip(
            "SQLite's shared in-memory test database answers concurrent threads with "
            "'table is locked'; the interleaving is proven by the test above"
        )
    monkeypatch.setattr(alerts, "_enqueue", lambda pk: None)  # sending is not the point here
    barrier = threading.Barrier(2, timeout=10)
    real_redact = alerts.redact
    monkeypatch.setattr(
        alerts, "redact", lambda text, secrets: (barrier.wait(), real_redact(text, secrets))[1]
    )
    created = []

    def worker():
        try:
            created.append(alerts.alert_raise(kind="all_down", incident="race", text="down"))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert "Alerting failed" not in caplog.text  # the constraint decided, not a swallowed error
    assert sum(created) == 3  # every channel recorded exactly once
    assert AlertDelivery.objects.filter(incident="race").count() == 3


def test_secrets_never_reach_the_stored_text_or_the_receiver(
    channels, settings, sync_q, django_capture_on_commit_callbacks, use_providers
):
    use_providers(GROQ_API_KEY=PROVIDER_SECRET)
    text = f"bot {TOKEN} key {PROVIDER_SECRET} hook {HOOK_SECRET} sk-abcdef0123456789"
    raise_and_send(django_capture_on_commit_callbacks, kind="all_down", incident="i1", text=text)
    stored = " ".join(AlertDelivery.objects.values_list("text", flat=True))
    sent = b" ".join(body for _, _, body in channels.requests).decode()
    for secret in (TOKEN, PROVIDER_SECRET, HOOK_SECRET, "sk-abcdef0123456789"):
        assert secret not in stored and secret not in sent
    assert len(channels.requests) == 3


def test_alerting_never_breaks_the_caller(channels, monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(AlertDelivery.objects, "filter", broken)
    assert alerts.alert_raise(kind="all_down", incident="i1", text="x") == 0
    assert "Alerting failed" in caplog.text


def test_no_channel_configured_costs_no_query(django_assert_num_queries):
    error = AllProvidersFailed([Attempt("groq", "k1", "unavailable", 503, 1.0)], retry_after=None)
    with django_assert_num_queries(0):
        alerts.alert_all_down(error)
        alerts.alert_raise(kind="all_down", incident="i1", text="x")


# The hooks, through the gateway itself (the simulator plays the providers).

CHAT = "/api/llm/chat"
HELLO = {"messages": [{"role": "user", "content": "hello"}]}
ALL = ("groq", "gemini", "deepseek")


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(
        django_user_model.objects.create_user("ops", password="pw-ops-123", is_staff=True)
    )
    return client


def kinds() -> list[tuple[str, str]]:
    return sorted(set(AlertDelivery.objects.values_list("kind", "incident")))


def test_a_key_failing_auth_alerts_once_for_its_episode(agent, sim, use_providers, channels):
    sim.script("groq", [{"behavior": "auth"}])
    assert agent.post(CHAT, HELLO, format="json").json()["provider"] == "gemini"
    agent.post(CHAT, HELLO, format="json")  # the key is out now: skipped, no second alert
    [(kind, incident)] = kinds()
    assert kind == "key_auth" and incident.startswith("groq/k1:") and incident.endswith(":reset0")
    text = AlertDelivery.objects.filter(channel="slack").get().text
    assert "groq/k1 failed authentication (HTTP 401)" in text


def test_a_reset_key_that_fails_auth_again_is_a_new_episode(agent, sim, use_providers, channels):
    from llmfallback import services

    sim.script("groq", [{"behavior": "auth"}, {"behavior": "auth"}])
    agent.post(CHAT, HELLO, format="json")
    services.provider_cooldown_reset(name="groq", by="ops")
    agent.post(CHAT, HELLO, format="json")
    assert [i.rsplit(":", 1)[1] for _, i in kinds()] == ["reset0", "reset1"]


def test_every_provider_down_alerts_once_until_one_serves_again(
    agent, sim, use_providers, channels
):
    from llmfallback import services

    for name in ALL:
        sim.script(name, [{"behavior": "unavailable", "times": -1}])
    for _ in range(3):  # a storm of failing requests: one incident
        assert agent.post(CHAT, HELLO, format="json").status_code == 503
        for name in ALL:
            services.provider_cooldown_reset(name=name, by="test")
    assert [k for k, _ in kinds() if k == "all_down"] == ["all_down"]
    assert (
        "every provider is down (unavailable)"
        in AlertDelivery.objects.filter(kind="all_down").first().text
    )
    sim.reset()
    assert agent.post(CHAT, HELLO, format="json").status_code == 200
    for name in ALL:
        sim.script(name, [{"behavior": "unavailable", "times": -1}])
    agent.post(CHAT, HELLO, format="json")
    assert len([k for k, _ in kinds() if k == "all_down"]) == 2  # a new incident after a success


def test_an_escalation_alerts_when_it_opens_and_when_it_recovers(
    agent, sim, use_providers, channels, settings
):
    from llmfallback import services

    settings.LLM_INCIDENT_SETTLE_S = 0
    for name in ALL:
        sim.script(name, [{"behavior": "unavailable", "times": -1}])
    number = agent.post(CHAT, HELLO, format="json").json()["escalation_number"]
    sim.reset()
    for name in ALL:
        services.provider_cooldown_reset(name=name, by="test")
    assert agent.post(CHAT, HELLO, format="json").status_code == 200
    incident = f"escalation:{number}"
    assert ("escalation_opened", incident) in kinds() and ("escalation_closed", incident) in kinds()
    closed = AlertDelivery.objects.filter(kind="escalation_closed").first().text
    assert f"escalation #{number} recovered" in closed


def test_the_dashboard_shows_the_last_alerts_and_whether_they_were_delivered(
    channels, settings, staff_client
):
    only(settings, "telegram")
    alerts.alert_raise(kind="all_down", incident="down-since:never", text="down")
    alerts.alert_raise(kind="key_auth", incident="groq/k1:-:reset0", text="key")
    AlertDelivery.objects.filter(kind="all_down").update(
        status="sent", attempts=1, sent_at="2026-11-30T10:00:00Z"
    )
    AlertDelivery.objects.filter(kind="key_auth").update(
        status="failed", attempts=4, last_error="HTTP 503: busy"
    )
    page = staff_client.get("/dashboard/llm").content.decode()
    panel = page[page.index('id="alerts"') :]
    assert "all_down" in panel and "key_auth" in panel and "HTTP 503: busy" in panel
    assert "no: failed" in panel and "yes" in panel


def test_the_alert_admin_is_read_only(channels, staff_client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", password="pw-root-123")
    staff_client.force_login(admin)
    alerts.alert_raise(kind="all_down", incident="i1", text="down")
    delivery = AlertDelivery.objects.first()
    assert staff_client.get("/admin/llmfallback/alertdelivery/").status_code == 200
    assert staff_client.get("/admin/llmfallback/alertdelivery/add/").status_code == 403
    change = staff_client.post(
        f"/admin/llmfallback/alertdelivery/{delivery.pk}/change/", {"status": "sent"}
    )
    assert (
        change.status_code == 403 or AlertDelivery.objects.get(pk=delivery.pk).status == "pending"
    )


def test_a_delivery_left_sending_by_a_killed_worker_is_taken_over_after_the_task_timeout(
    channels, settings
):
    from datetime import timedelta

    from django.utils import timezone

    delivery = pending(settings)
    now = timezone.now()
    AlertDelivery.objects.filter(pk=delivery.pk).update(status="sending", claimed_at=now)
    assert alerts.alert_deliver(delivery_id=delivery.pk, sleep=None, now=lambda: now) == "skipped"
    later = now + timedelta(seconds=settings.Q_CLUSTER["timeout"] + 1)
    assert alerts.alert_deliver(delivery_id=delivery.pk, sleep=None, now=lambda: later) == "sent"
    assert len(channels.requests) == 1


def test_a_stream_that_no_provider_serves_raises_the_all_down_alert_too(
    agent, sim, use_providers, channels
):
    for name in ALL:
        sim.script(name, [{"behavior": "unavailable", "times": -1}])
    body = {"model": "auto", "messages": HELLO["messages"], "stream": True}
    assert agent.post("/v1/chat/completions", body, format="json").status_code == 503
    assert [k for k, _ in kinds()] == ["all_down", "escalation_opened"]
