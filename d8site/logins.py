"""Staff logins (the admin's and the dashboard's) against password guessing: django-axes.

Axes counts failed logins per username and per client address and, past
DJANGO_LOGIN_FAILURE_LIMIT, refuses that username or address, right password or not, for
DJANGO_LOGIN_LOCKOUT_S. Agent keys never go through it: a wrong key is one cheap 401 that
Django logs, and no agent's mistakes can lock a person out (README, "Staff logins").
"""

from __future__ import annotations

from django.conf import settings


def client_ip(request) -> str:
    """The caller's address as the lockout counts it.

    REMOTE_ADDR, unless behind the TLS proxy (DJANGO_BEHIND_TLS_PROXY): there REMOTE_ADDR is the
    proxy itself, and counting it would let anyone's few wrong passwords lock every staff member
    out. The proxy appends the address it saw to X-Forwarded-For; only that last entry is
    trusted, since everything before it is whatever the caller chose to send.
    """
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if settings.BEHIND_TLS_PROXY and forwarded.strip():
        return forwarded.split(",")[-1].strip()
    return request.META.get("REMOTE_ADDR", "")
