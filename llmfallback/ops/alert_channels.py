"""What each alert channel is sent: the HTTP request for Telegram, Slack and the signed
webhook, and how a webhook receiver checks the signature."""

from __future__ import annotations

import hashlib
import hmac
import html
import json
from dataclasses import dataclass

from django.conf import settings

from ..models import AlertDelivery

SIGNATURE_HEADER = "X-D8-Signature"
TIMESTAMP_HEADER = "X-D8-Timestamp"


@dataclass(frozen=True, slots=True)
class Request:
    url: str
    body: bytes
    headers: dict


def _json(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode()


JSON = {"Content-Type": "application/json"}


def telegram_request(delivery: AlertDelivery, ts: int) -> Request:
    """Bot API sendMessage: https://core.telegram.org/bots/api#sendmessage (HTML parse mode,
    so <, > and & in our text are escaped)."""
    s = settings
    url = f"{s.LLM_ALERT_TELEGRAM_API_BASE.rstrip('/')}/bot{s.LLM_ALERT_TELEGRAM_BOT_TOKEN}/sendMessage"
    body = {
        "chat_id": s.LLM_ALERT_TELEGRAM_CHAT_ID,
        "text": html.escape(delivery.text, quote=False),
        "parse_mode": "HTML",
        "disable_web_page_preview": True,
    }
    return Request(url, _json(body), JSON)


def slack_request(delivery: AlertDelivery, ts: int) -> Request:
    """Incoming webhook: POST {"text": ...}; Slack asks for &, < and > to be escaped."""
    text = delivery.text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return Request(settings.LLM_ALERT_SLACK_WEBHOOK_URL, _json({"text": text}), JSON)


def webhook_request(delivery: AlertDelivery, ts: int) -> Request:
    """JSON signed with HMAC-SHA256 over "<timestamp>.<raw body>" (see webhook_signature)."""
    body = _json(
        {
            "kind": delivery.kind,
            "incident": delivery.incident,
            "text": delivery.text,
            "delivery_id": delivery.pk,
            "created_at": delivery.created_at.isoformat(),
        }
    )
    headers = JSON | {
        TIMESTAMP_HEADER: str(ts),
        SIGNATURE_HEADER: webhook_signature(settings.LLM_ALERT_WEBHOOK_SECRET, ts, body),
        "X-D8-Delivery": str(delivery.pk),
    }
    return Request(settings.LLM_ALERT_WEBHOOK_URL, body, headers)


def webhook_signature(secret: str, ts: int, body: bytes) -> str:
    """sha256=<hex>: the timestamp is signed with the body, so an old delivery cannot be
    replayed with a fresh timestamp; receivers reject timestamps older than a few minutes."""
    digest = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def webhook_verify(
    secret: str,
    *,
    timestamp: str,
    signature: str,
    body: bytes,
    now: float,
    tolerance_s: float = 300,
) -> bool:
    """What a receiver does (documented, and used by the tests)."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs(now - ts) > tolerance_s:
        return False
    return hmac.compare_digest(webhook_signature(secret, ts, body), signature)


BUILDERS = {"telegram": telegram_request, "slack": slack_request, "webhook": webhook_request}
