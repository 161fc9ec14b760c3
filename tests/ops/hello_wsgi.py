"""The smallest WSGI app, for tests about gunicorn's own set-up (d8site/gunicorn.conf.py)."""


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
