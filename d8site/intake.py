"""What the web worker's main thread decides before a request gets a thread (gunicorn_worker.py):
whether a request has arrived whole, whether a client address may open another connection, and
the answer a request gets when the worker is past capacity. Plain Python, tested without sockets.
"""

from __future__ import annotations

import json
from collections import Counter

MORE, READY, TOO_LARGE = "more", "ready", "too_large"
HEAD_MAX = (
    64 * 1024
)  # a request head larger than this is refused (gunicorn's own limits: ~8 KB lines)
# Bodies up to this size arrive whole before a thread is given; a larger one (or a chunked one)
# is read by its thread, each read bounded by the read timeout.
BODY_PREREAD_MAX = 4 * 1024 * 1024


def request_state(buf: bytes | bytearray) -> str:
    """READY once the head and (when it says how long) the body are in buf; MORE before that;
    TOO_LARGE for a head past HEAD_MAX. A chunked body, a body past BODY_PREREAD_MAX and a client
    waiting for `100 Continue` are READY after the head: their thread reads (or asks for) the rest."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return TOO_LARGE if len(buf) > HEAD_MAX else MORE
    if end > HEAD_MAX:
        return TOO_LARGE
    length, later = _body_length(bytes(buf[:end]).lower())
    if later or length > BODY_PREREAD_MAX:
        return READY
    return READY if len(buf) >= end + 4 + length else MORE


def _body_length(head: bytes) -> tuple[int, bool]:
    """(Content-Length or 0, whether the thread must read the body itself)."""
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip(), value.strip()
        if name == b"content-length":
            if not value.isdigit():
                return 0, True  # gunicorn's parser answers it (400)
            length = int(value)
        elif name == b"transfer-encoding" or (name == b"expect" and value == b"100-continue"):
            return 0, True
    return length, False


class SlowSenders:
    """Connections per client address that have been sending a request for over `grace_s`
    without finishing it. Past `limit` of those, the address's new connections are refused,
    where other addresses' are not. Agents send a request at once, so theirs are never counted,
    however many share an address (a fleet behind one NAT, wrk's 1,024 connections)."""

    def __init__(self, limit: int, grace_s: float = 1.0) -> None:
        self.limit, self.grace_s = limit, grace_s
        self.slow: Counter[str] = Counter()
        self._fresh: dict[object, tuple[str, float]] = {}  # in the order they started
        self._slow: dict[object, str] = {}

    def admit(self, address: str) -> bool:
        return not self.limit or self.slow[address] < self.limit

    def start(self, conn, address: str, now: float) -> None:
        self._fresh[conn] = (address, now)

    def sweep(self, now: float) -> None:
        """Count the connections that passed grace_s without a whole request as slow."""
        while self._fresh:
            conn, (address, started) = next(iter(self._fresh.items()))
            if now - started < self.grace_s:
                return
            del self._fresh[conn]
            self._slow[conn] = address
            self.slow[address] += 1

    def done(self, conn) -> None:
        if self._fresh.pop(conn, None) is not None:
            return
        address = self._slow.pop(conn, None)
        if address is not None:
            self.slow[address] -= 1
            if self.slow[address] <= 0:
                del self.slow[address]


def overloaded_response(reason: str, retry_after_s: int) -> bytes:
    """503 with Retry-After, in OpenAI's error envelope (what every agent SDK reads), closing
    the connection. reason: queue_full or queue_timeout."""
    messages = {
        "queue_full": "The gateway is at capacity and its queue is full",
        "queue_timeout": "The request waited in the gateway's queue past its limit",
    }
    message = f"{messages[reason]}; retry after {retry_after_s} s."
    body = json.dumps(
        {"error": {"message": message, "type": "server_error", "param": None, "code": reason}}
    ).encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Content-Type: application/json\r\n"
        f"Retry-After: {retry_after_s}\r\n"
        f"x-d8-overloaded: {reason}\r\n"
        "Connection: close\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body
