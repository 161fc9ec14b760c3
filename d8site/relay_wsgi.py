"""Where a WSGI answer meets the stream relay (d8site/relay.py): `relaying(app, loop)` wraps the
app so that a stream marked `relay_stream` (llmfallback/http/sse.response) is handed to the
worker's loop once its first token is out; every other answer goes back to gunicorn untouched.
"""

from __future__ import annotations

from d8site.relay import Job, RelayLoop

# Where llmfallback.http.wire.FirstTokenCork leaves itself in the environ (its ENVIRON_KEY; the
# serving layer imports no face, tests/serving/test_relay.py holds the two equal).
FIRST_TOKEN_CORK = "d8.first_token_cork"


def relaying(app, loop: RelayLoop):
    """The WSGI app, with its streams marked `relay_stream` relayed by `loop` under gunicorn."""

    def relayed_app(environ, start_response):
        result = app(environ, start_response)
        resp = getattr(start_response, "__self__", None)  # gunicorn's http.wsgi.Response
        if getattr(result, "relay_stream", False) and hasattr(resp, "chunked"):
            return Relayed(result, resp, loop, environ.get(FIRST_TOKEN_CORK))
        return result

    return relayed_app


class Relayed:
    """The answer's iterable for gunicorn: it sends the head and what comes up to the first token
    itself, as before; the loop sends the rest while this thread waits. gunicorn then ends the
    answer as always. Handed over only once the stream has released its first-token cork
    (wire.FirstTokenCork: the first token is out), so the relay adds nothing to the time to the
    first token; without a cork, after the first chunk."""

    def __init__(self, response, resp, loop: RelayLoop, cork=None) -> None:
        self._response, self._resp, self._loop = response, resp, loop
        self._cork = cork

    def __iter__(self):
        items = iter(self._response)
        for item in items:
            if item:
                yield item
                if self._cork is None or not self._cork.holding:
                    break
        else:
            return
        job = Job(items, self._resp.sock, chunked=self._resp.chunked)
        try:
            self._loop.run(job)
        finally:
            self._resp.sent += job.sent

    def close(self) -> None:
        self._response.close()
