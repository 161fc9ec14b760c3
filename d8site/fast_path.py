"""POST /v1/chat/completions straight to its view, through only the middleware that act on it.

Django's handler takes every request through the URL resolver and all of settings.MIDDLEWARE.
For the gateway's hottest call that cost ~0.1 ms before the provider was asked and ~0.03 ms
after it answered, on a thread that has just woken from its wait for the provider, when every
step runs slowest (bench/ttft_steps.py, bench/run's streaming rows). Six of the nine middleware
do nothing for an agent's POST to this one path (PASSED_BY says why for each); the rest
(HTTPS redirect and security headers, ALLOWED_HOSTS and Content-Length, X-Frame-Options) run
here as Django runs them: in settings order, each wrapped in Django's own exception handling,
with their view and exception hooks. Everything else of Django's handler is kept as it is: it
is Django's WSGIHandler, with the request_started and request_finished signals (and so the
database connections' upkeep), the 4xx/5xx log and Set-Cookie.

A middleware added to settings.MIDDLEWARE later runs on this path too, unless it is added to
PASSED_BY with its reason. The view called is the one the URLconf resolves CHAT_PATH to.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.urls import resolve
from django.utils.module_loading import import_string

CHAT_PATH = "/v1/chat/completions"

# settings.MIDDLEWARE entries that do nothing for an agent's POST to CHAT_PATH.
PASSED_BY = {
    "whitenoise.middleware.WhiteNoiseMiddleware": "it serves files under STATIC_URL only",
    "django.contrib.sessions.middleware.SessionMiddleware": (
        "agents authenticate with a key alone: the view never opens a session"
    ),
    "d8site.middleware.LocaleMiddleware": "it passes /v1/ by already (d8site/middleware.py)",
    "django.middleware.csrf.CsrfViewMiddleware": (
        "the view is csrf_exempt: an agent key is no cookie a browser sends on its own"
    ),
    "d8site.middleware.AuthenticationMiddleware": "it passes /v1/ by already",
    "d8site.middleware.MessageMiddleware": "it passes /v1/ by already",
    "d8site.middleware.MethodNotAllowedPage": "it leaves /v1/ answers as they are",
    "axes.middleware.AxesMiddleware": "it answers only logins it locked out: /v1 takes no login",
}


class ChatHandler(WSGIHandler):
    """Django's WSGI handler for CHAT_PATH alone: no URL resolving, and only the middleware
    not PASSED_BY (synchronous, as the service is served)."""

    def __init__(self) -> None:
        self._match = resolve(CHAT_PATH)
        super().__init__()

    def load_middleware(self, is_async: bool = False) -> None:
        """BaseHandler.load_middleware's synchronous chain, over the middleware kept."""
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        handler = convert_exception_to_response(self._get_response)
        for path in reversed(settings.MIDDLEWARE):
            if path in PASSED_BY:
                continue
            middleware = import_string(path)
            if not getattr(middleware, "sync_capable", True):
                raise ImproperlyConfigured(f"{path} cannot run in the synchronous chat path")
            try:
                instance = middleware(handler)
            except MiddlewareNotUsed:
                continue
            if hasattr(instance, "process_view"):
                self._view_middleware.insert(0, instance.process_view)
            if hasattr(instance, "process_template_response"):
                self._template_response_middleware.append(instance.process_template_response)
            if hasattr(instance, "process_exception"):
                self._exception_middleware.append(instance.process_exception)
            handler = convert_exception_to_response(instance)
        self._middleware_chain = handler

    def resolve_request(self, request):
        request.resolver_match = self._match
        return self._match  # unpacks as (view, args, kwargs), as Django's own resolve_request


class ChatFirst:
    """The service's WSGI application: POST CHAT_PATH to ChatHandler, every other request to
    Django's own handler."""

    def __init__(self, django_app) -> None:
        self.django = django_app
        self.chat = ChatHandler()

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == CHAT_PATH and environ.get("REQUEST_METHOD") == "POST":
            return self.chat(environ, start_response)
        return self.django(environ, start_response)
