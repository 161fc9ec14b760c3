"""The shared HTTP machinery: one httpx.Client, per-attempt timeouts, a total deadline.

Subclasses only describe their wire format (healthchecks' transports.py pattern):
`url()`, `headers(key)`, `payload(request)`, `parse(reply, request)` and
`raise_for_response(reply)`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx

from llmfallback.core.errors import (
    InvalidResponse,
    ProviderError,
    ProviderTimeout,
    Unavailable,
    UnknownError,
)
from llmfallback.core.ports import ApiKey
from llmfallback.core.stream_events import Delta, StreamEnd
from llmfallback.core.types import ChatRequest, Completion, Timeouts

from . import stream_reader
from .body import encoded, read_body
from .budget import attempt_budget, in_own_context
from .redact import redact
from .reply import Reply, unreadable


class HTTPProvider:
    """Base adapter. Thread-safe: nothing on self changes after __init__."""

    # Its streams time the provider's silence at the socket (stream_reader.events): the
    # streaming engine's clock checks, which would count this worker's own delays, step aside.
    times_its_reads = True

    kind = "http"

    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        model: str,
        client: httpx.Client,
        keys: tuple[ApiKey, ...] = (ApiKey("default"),),
        missing: str = "",
        clock: Callable[[], float] = time.monotonic,
        wallclock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name.lower()
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.client = client
        self.keys = tuple(keys) or (ApiKey("default"),)
        self.missing = missing
        self.clock = clock  # monotonic: measures the total deadline
        self.wallclock = wallclock  # epoch: turns HTTP dates and daily resets into waits
        self._urls: dict[str, httpx.URL] = {}  # see _parsed

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, model={self.model!r})"

    # -- what subclasses describe ------------------------------------------------------

    def url(self) -> str:
        raise NotImplementedError

    def headers(self, key: ApiKey) -> dict[str, str]:
        return {}

    def payload(self, request: ChatRequest) -> dict:
        raise NotImplementedError

    def parse(self, reply: Reply, request: ChatRequest) -> Completion:
        raise NotImplementedError

    def raise_for_response(self, reply: Reply) -> None:
        raise NotImplementedError

    def stream_url(self) -> str:
        raise NotImplementedError

    def stream_payload(self, request: ChatRequest) -> dict:
        raise NotImplementedError

    def stream_url_for(self, request: ChatRequest) -> str:
        """Where this request is streamed to (a prefill may need another path)."""
        return self.stream_url()

    def stream_parser(self):
        """A fresh parser for one stream: feed(data) and close() return Delta/StreamEnd lists."""
        raise NotImplementedError

    # -- the shared part ---------------------------------------------------------------

    def chat(self, request: ChatRequest, *, key: ApiKey, timeouts: Timeouts) -> Completion:
        """Call the provider once; raise exactly one ProviderError subclass on any failure,
        or RequestUnsendable, before any connection, when the request cannot be encoded."""
        content = encoded(self.payload, request)
        try:
            reply = self._send(content, key, timeouts)
        except ProviderError as e:
            error = e
        else:
            try:
                return self._interpret(reply, request)
            except ProviderError as e:
                error = e
            except Exception as e:  # noqa: BLE001 - a reply must never crash the chain
                # Whatever a provider sends (odd types, deep JSON) ends here, classified by
                # what can still be trusted: its status. The exception's own text stays out.
                error = unreadable(reply, e, now=self.wallclock())
        # Raised outside the except blocks: nothing the provider sent rides along as __context__.
        raise self._redacted(error, key)

    def _interpret(self, reply: Reply, request: ChatRequest) -> Completion:
        if not 200 <= reply.status < 300:
            self.raise_for_response(reply)
            raise UnknownError(f"HTTP {reply.status}", status=reply.status)
        return self.parse(reply, request)

    def _send(self, content: bytes, key: ApiKey, timeouts: Timeouts) -> Reply:
        return self._exchange("POST", self.url(), key, timeouts, content=content)

    def _exchange(
        self, method: str, url: str, key: ApiKey, timeouts: Timeouts, content: bytes | None = None
    ) -> Reply:
        headers = self.headers(key)
        if content is not None:
            headers = {"Content-Type": "application/json"} | headers
        with attempt_budget(timeouts.total, self.clock) as budget:
            try:
                with self.client.stream(
                    method,
                    self._parsed(url),
                    content=content,
                    headers=headers,
                    timeout=self._timeout(timeouts, budget.deadline),
                ) as response:
                    body = read_body(response, budget, timeouts, self.clock)
                    return Reply(response.status_code, response.headers, body)
            except httpx.TimeoutException as e:
                raise ProviderTimeout(budget.timed_out(e)) from None
            except httpx.DecodingError as e:
                raise InvalidResponse(f"undecodable body: {e}") from None
            except httpx.TransportError as e:
                # ConnectError, ReadError (resets), RemoteProtocolError, proxy errors...
                raise Unavailable(f"{type(e).__name__}: {e}") from None

    def _parsed(self, url: str) -> httpx.URL:
        """httpx parses a URL string on every call (~4 % of a chat call's CPU in
        bench/profile_v1.py); a provider's URLs hardly ever change, so each is parsed once.
        Concurrent threads at worst parse the same URL twice and store equal values."""
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) > 32:  # bounded, whatever a subclass puts in its URLs
                self._urls.clear()
            parsed = self._urls[url] = httpx.URL(url)
        return parsed

    def _timeout(self, timeouts: Timeouts, deadline: float) -> httpx.Timeout:
        # httpx applies these per socket operation. With build_client()'s transport every
        # operation is also capped at what is left of the attempt when it starts, so the
        # total holds in every phase; with any other client, a stalled read can overrun it by
        # at most this read timeout, itself capped at what remained when the request started.
        left = max(deadline - self.clock(), 0.001)
        read = min(timeouts.read, left)
        return httpx.Timeout(connect=min(timeouts.connect, left), read=read, write=read, pool=read)

    # -- auth probes ---------------------------------------------------------------------

    def probe_url(self) -> str:
        """A GET that needs a valid key and costs no tokens (a model listing or lookup)."""
        raise NotImplementedError

    def probe(self, *, key: ApiKey, timeouts: Timeouts) -> None:
        """Check `key` without a chat: return if the provider accepts it, else raise the same
        classified ProviderError a chat call would (AuthFailed for a refused key)."""
        try:
            reply = self._exchange("GET", self.probe_url(), key, timeouts)
        except ProviderError as e:
            raise self._redacted(e, key) from None
        if 200 <= reply.status < 300:
            return
        try:
            self.raise_for_response(reply)
            error: ProviderError = UnknownError(f"HTTP {reply.status}", status=reply.status)
        except ProviderError as e:
            error = e
        except Exception as e:  # noqa: BLE001 - an odd error body still yields one class
            error = unreadable(reply, e, now=self.wallclock())
        raise self._redacted(error, key)

    # -- streaming -----------------------------------------------------------------------

    def stream(
        self, request: ChatRequest, *, key: ApiKey, timeouts: Timeouts, stall_s: float
    ) -> Iterator[Delta | StreamEnd]:
        """Stream one answer: Deltas, then one StreamEnd; raise one ProviderError on failure.

        Until the first token `timeouts.total` bounds the call (the first-token timeout);
        after it only `stall_s` without a content event does: keep-alive comments and blank
        lines never count. Closing the generator closes the connection. It runs in a context of
        its own (budget.in_own_context): its attempt budget never outlives it in the caller's.
        """
        content = encoded(self.stream_payload, request)  # RequestUnsendable: at once
        return in_own_context(self._classified_stream(request, content, key, timeouts, stall_s))

    def _classified_stream(self, request, content, key, timeouts, stall_s):
        try:
            yield from self._stream(request, content, key, timeouts, stall_s)
            return
        except ProviderError as e:
            error = e
        except Exception as e:  # noqa: BLE001 - whatever the bytes were, one classified error
            error = InvalidResponse(f"a stream the adapter could not read ({type(e).__name__})")
        raise self._redacted(error, key)

    def _stream(self, request, content: bytes, key: ApiKey, timeouts: Timeouts, stall_s: float):
        with attempt_budget(timeouts.total, self.clock) as budget:
            t = self._timeout(timeouts, budget.deadline)
            # The budget holds the pre-token limits; the socket's own read timeout must not
            # end a healthy stream sooner than the stall limit once tokens flow.
            timeout = httpx.Timeout(
                connect=t.connect, read=max(t.read or 0.0, stall_s), write=t.write, pool=t.pool
            )
            try:
                with self.client.stream(
                    "POST",
                    self._parsed(self.stream_url_for(request)),
                    content=content,
                    headers={"Content-Type": "application/json"} | self.headers(key),
                    timeout=timeout,
                ) as response:
                    if stream_reader.is_event_stream(response):
                        yield from stream_reader.events(
                            response,
                            budget,
                            self.stream_parser(),
                            self.clock,
                            timeouts.read,
                            stall_s,
                        )
                        return
                    # An error status, or a server that ignored `stream` and answered whole.
                    body = read_body(response, budget, timeouts, self.clock)
                    completion = self._interpret(
                        Reply(response.status_code, response.headers, body), request
                    )
                    yield from stream_reader.whole_answer(completion)
            except httpx.TimeoutException as e:
                raise ProviderTimeout(budget.timed_out(e)) from None
            except httpx.DecodingError as e:
                raise InvalidResponse(f"undecodable body: {e}") from None
            except httpx.TransportError as e:
                raise Unavailable(f"{type(e).__name__}: {e}") from None

    def _redacted(self, error: ProviderError, key: ApiKey) -> ProviderError:
        # Errors are created fresh per call, so cleaning this one in place is safe.
        error.message = redact(str(error.message), [key.secret])
        error.args = (error.message,)
        if error.code is not None:
            error.code = redact(str(error.code), [key.secret])[:100]
        error.__context__ = error.__cause__ = None
        return error
