"""The smallest WSGI app, for tests about gunicorn's own set-up (d8site/gunicorn.conf.py): it
answers which worker process served the request, after `?wait=SECONDS` if asked (a thread held,
as a provider call holds one); /stats: the workers' shared counts; /switch: the worker's
sys.getswitchinterval(); /echo: the request body's length and SHA-256, read whole; /file?size=N:
N bytes from a file, through gunicorn's sendfile; /big?size=N: N bytes in one write."""

import hashlib
import json
import os
import sys
import tempfile
import time
from urllib.parse import parse_qs


def app(environ, start_response):
    if environ.get("PATH_INFO") == "/stats":  # the workers' shared counts (d8site/web_stats.py)
        from d8site.web_stats import STATS

        body = json.dumps(STATS.totals()).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    if environ.get("PATH_INFO") == "/switch":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [repr(sys.getswitchinterval()).encode()]
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if environ.get("PATH_INFO") == "/echo":
        body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"{len(body)} {hashlib.sha256(body).hexdigest()}".encode()]
    if environ.get("PATH_INFO") in ("/file", "/big"):
        size = int(query["size"][0])
        headers = [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))]
        start_response("200 OK", headers)
        if environ["PATH_INFO"] == "/big":
            return [_pattern(size)]
        f = tempfile.TemporaryFile()
        f.write(_pattern(size))
        f.seek(0)
        return environ["wsgi.file_wrapper"](f)
    wait = query.get("wait")
    if wait:
        time.sleep(float(wait[0]))
    body = f"ok {os.getpid()}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def _pattern(size: int) -> bytes:
    """`size` bytes a client can check without being sent them: 0, 1, ... 250, 0, 1, ..."""
    return (bytes(range(251)) * (size // 251 + 1))[:size]
