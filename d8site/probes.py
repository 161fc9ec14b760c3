"""GET /livez and /readyz for load balancers and orchestrators: no key, cheap, and saying
nothing but yes or no.

/api/llm/health needs an agent key (which then ends up in haproxy.cfg) and builds the whole
health document: under load on one surviving host it took up to 1.0 s against a 2 s check
timeout (issue 25). These two answer before Django's URL resolver and middleware: no session,
no ALLOWED_HOSTS (a balancer's check names no host of ours), no HTTPS redirect (balancers check
a backend over plain HTTP). Their body is one word; why a process is not ready goes to its log.

- /livez: 200 while the process can answer at all (restart it when this fails).
- /readyz: 200 when this process can serve, 503 when not: it is draining (SIGTERM,
  d8site/drain.py) or its database does not answer `SELECT 1`.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, connection

from d8site import drain

LIVE_PATH = "/livez"
READY_PATH = "/readyz"
METHODS = ("GET", "HEAD")

log = logging.getLogger(__name__)
_last_reason = [""]  # the reason last logged, so a failing probe logs once, not per check


class Probes:
    """WSGI: answer the probes, hand everything else to `app`."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == LIVE_PATH:
            return answer(environ, start_response, "200 OK", b"live\n")
        if path == READY_PATH:
            if readiness_failure():
                return answer(environ, start_response, "503 Service Unavailable", b"not ready\n")
            return answer(environ, start_response, "200 OK", b"ready\n")
        return self.app(environ, start_response)


def answer(environ, start_response, status: str, body: bytes):
    if environ.get("REQUEST_METHOD") not in METHODS:
        status, body = "405 Method Not Allowed", b"method not allowed\n"
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
        ("Allow", ", ".join(METHODS)),
    ]
    start_response(status, headers)
    return [] if environ.get("REQUEST_METHOD") == "HEAD" else [body]


def readiness_failure() -> str:
    """Why this process cannot serve ("" when it can); logged when the reason changes."""
    reason = "draining" if drain.draining() else database_failure()
    if reason != _last_reason[0]:
        _last_reason[0] = reason
        if reason:
            log.warning("Not ready: %s", reason)
        else:
            log.info("Ready again")
    return reason


def database_failure() -> str:
    """ "" when this thread's database connection answers `SELECT 1`, else why not.

    The request/response cycle that would tidy connections is Django's, passed by here: so, as
    Django does around every request, a connection broken or past its age is closed before and
    after (never one inside a transaction: only a test holds one here)."""
    try:
        _tidy()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as e:
        return f"database: {type(e).__name__}: {str(e).strip()[:200]}"
    finally:
        # As at the end of Django's request: with PostgreSQL's pool (CONN_MAX_AGE 0) the
        # connection goes back to it, or this idle thread would keep one of a few for itself.
        _tidy()
    return ""


def _tidy() -> None:
    if not connection.in_atomic_block:
        connection.close_if_unusable_or_obsolete()
