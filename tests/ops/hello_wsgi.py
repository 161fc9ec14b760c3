"""The smallest WSGI app, for tests about gunicorn's own set-up (d8site/gunicorn.conf.py): it
answers which worker process served the request, after `?wait=SECONDS` if asked (a thread held,
as a provider call holds one); /stats: the workers' shared counts; /switch: the worker's
sys.getswitchinterval()."""

import json
import os
import sys
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
    wait = parse_qs(environ.get("QUERY_STRING", "")).get("wait")
    if wait:
        time.sleep(float(wait[0]))
    body = f"ok {os.getpid()}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
