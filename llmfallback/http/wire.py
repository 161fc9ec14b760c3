"""A streamed answer's first bytes leave in one packet: the response head, the role chunk and the
first token together.

gunicorn sends the head and each chunk with a send of its own. A stream therefore began as three
packets, and the agent woke for the head alone: on a busy core it parsed the head while the
gateway waited for the core back, and only then got the token (bench/run's streaming rows; the
docs/benchmarks.md, "What each change bought"). On Linux, TCP_CORK holds what is written until it is
released; sse.chunks releases it right after the first token is handed to the server, and at the
stream's end whatever happened. The kernel itself sends a corked socket's bytes after 200 ms, so
even a release that never came could only delay, never lose, a byte.

Without gunicorn's socket in the environ (runserver, the test client), on a platform without
TCP_CORK, or on a socket that refuses it (a Unix socket), this does nothing: the answer is the
same, only in more packets.
"""

from __future__ import annotations

import socket

_CORK = getattr(socket, "TCP_CORK", None)
ENVIRON_KEY = "d8.first_token_cork"


class FirstTokenCork:
    """Cork the client's socket now; release() once the first token is written. Idempotent."""

    __slots__ = ("_sock",)

    def __init__(self, sock) -> None:
        self._sock = None
        if sock is None or _CORK is None:
            return
        try:
            sock.setsockopt(socket.IPPROTO_TCP, _CORK, 1)
        except (OSError, AttributeError):  # not a TCP socket, or not a socket at all
            return
        self._sock = sock

    @classmethod
    def for_request(cls, meta) -> FirstTokenCork:
        """For the connection a WSGI request arrived on (gunicorn puts it in the environ). Left
        in the environ too (ENVIRON_KEY): the stream relay hands a stream to its loop only once
        the first token is out (d8site/relay_wsgi.py)."""
        cork = cls(meta.get("gunicorn.socket"))
        meta[ENVIRON_KEY] = cork
        return cork

    @property
    def holding(self) -> bool:
        return self._sock is not None

    def release(self) -> None:
        sock, self._sock = self._sock, None
        if sock is None:
            return
        try:
            sock.setsockopt(socket.IPPROTO_TCP, _CORK, 0)
        except OSError:  # the connection is gone: there is nothing left to send
            pass
