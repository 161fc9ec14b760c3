"""The floor: a bare Django view that forwards a chat to the upstream with one shared httpx.Client.

A streamed chat ("stream": true) is relayed byte for byte as the upstream sends it. No auth, no
database, no fallback. Serve it like the real service to see what Django, gunicorn and httpx
alone cost on this machine:
    PASSTHROUGH_UPSTREAM=http://127.0.0.1:7900/groq/openai/v1/chat/completions \\
    .venv/bin/gunicorn -c d8site/gunicorn.conf.py bench.passthrough:application
"""

import os

import django
import httpx
from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
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
HEADERS = {
    "Authorization": "Bearer gsk_sim_0000000000000000000000000000000000000000000000000",
    "Content-Type": "application/json",
}


def chat(request):
    body = request.body
    # No JSON parsing on the floor: a byte search finds a stream request. httpx's json= (0.28,
    # bench/stream.py) writes compact '"stream":true'; json.dumps' default (the wrk bodies,
    # bench/load.py) writes '"stream": true'.
    if b'"stream":true' in body or b'"stream": true' in body:
        return _stream(body)
    r = client.post(UPSTREAM, content=body, headers=HEADERS)
    return HttpResponse(r.content, status=r.status_code, content_type="application/json")


def _stream(body: bytes) -> StreamingHttpResponse:
    # What client.stream("POST", ...) does, without its with-block: the status must be known
    # before the body, and the response must outlive this function (relay closes it).
    upstream = client.send(
        client.build_request("POST", UPSTREAM, content=body, headers=HEADERS), stream=True
    )

    def relay():
        try:
            yield from upstream.iter_raw()
        finally:  # the end of the stream, or the client left (the server closes this generator)
            upstream.close()

    return StreamingHttpResponse(
        relay(), status=upstream.status_code, content_type="text/event-stream"
    )


def ready(request):
    return HttpResponse(b"ok")


urlpatterns = [path("api/llm/chat", chat), path("ready", ready)]

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
