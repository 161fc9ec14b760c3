"""The floor: a bare Django view that forwards a chat to the upstream with one shared httpx.Client.

No auth, no database, no fallback. Serve it like the real service to see what Django, gunicorn
and httpx alone cost on this machine:
    PASSTHROUGH_UPSTREAM=http://127.0.0.1:7900/groq/openai/v1/chat/completions \\
    .venv/bin/gunicorn -c d8site/gunicorn.conf.py bench.passthrough:application
"""

import os

import django
import httpx
from django.conf import settings
from django.http import HttpResponse
from django.urls import path

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
)
django.setup()

UPSTREAM = os.environ.get(
    "PASSTHROUGH_UPSTREAM", "http://127.0.0.1:7900/groq/openai/v1/chat/completions"
)
client = httpx.Client(limits=httpx.Limits(max_connections=256, max_keepalive_connections=64))


def chat(request):
    headers = {"Authorization": "Bearer gsk_sim_0000000000000000000000000000000000000000000000000"}
    r = client.post(
        UPSTREAM, content=request.body, headers=headers | {"Content-Type": "application/json"}
    )
    return HttpResponse(r.content, status=r.status_code, content_type="application/json")


def ready(request):
    return HttpResponse(b"ok")


urlpatterns = [path("api/llm/chat", chat), path("ready", ready)]

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
