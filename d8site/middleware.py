"""Django's locale, authentication and message middleware, passed by for /v1.

The OpenAI-compatible /v1 is for agents: they authenticate with an agent key (Bearer) and
nothing else, read no translated page and see no flash message. Going around these three saves
each /v1 request CPU on the gateway's hottest path (bench/profile_v1.py). Everything else
(/api/, the dashboard, the admin) keeps all of them.

They stay subclasses of Django's own, so the admin's checks and anything that looks for them
by class still find them. Sessions stay Django's own: `check --deploy` finds its session
middleware by its exact path, and a session untouched costs little (it is lazy).
"""

from __future__ import annotations

from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.middleware import locale

AGENTS_ONLY_PREFIX = "/v1/"


class _NotForAgentsOnlyPaths:
    def __call__(self, request):
        if not self.async_mode and request.path_info.startswith(AGENTS_ONLY_PREFIX):
            return self.get_response(request)
        return super().__call__(request)


class LocaleMiddleware(_NotForAgentsOnlyPaths, locale.LocaleMiddleware):
    pass


class AuthenticationMiddleware(_NotForAgentsOnlyPaths, auth.AuthenticationMiddleware):
    pass


class MessageMiddleware(_NotForAgentsOnlyPaths, messages.MessageMiddleware):
    pass


class MethodNotAllowedPage:
    """A page's 405 (require_POST, an admin action's URL opened as a link) is a page with the
    navigation, as 403, 404 and 500 are; the APIs keep their JSON answers."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code != 405 or response.content or _for_machines(request.path):
            return response
        from django.shortcuts import render

        page = render(request, "405.html", status=405)
        page["Allow"] = response.get("Allow", "")
        return page


def _for_machines(path: str) -> bool:
    from .api import is_api_path

    return path.startswith(AGENTS_ONLY_PREFIX) or is_api_path(path)
