"""The smallest WSGI app, for tests about gunicorn's own set-up (d8site/gunicorn.conf.py): it
answers which worker process served the request."""

import os


def app(environ, start_response):
    body = f"ok {os.getpid()}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
