"""The loopback HTTP server: provider routes, the /_sim control API, and how bytes hit the socket.

Speed matters (it is the benchmarks' upstream): HTTP/1.1 keep-alive, one write per plain reply
(headers and body together, TCP_NODELAY, so Nagle never meets delayed ACK), no request logging.
"""

import email.utils
import json
import select
import socket
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

from . import behaviors, model_routes
from .book import ScriptBook
from .control_api import control_reply
from .paths import route
from .reply import Reply, compact

REASONS = {498: "Flex Tier Capacity Exceeded"}
# The standalone simulator's GIL switch interval (CPython's is 5 ms), as the service's
# (d8site/serving.py): a thousand streams each waking for its next token, all wanting the GIL,
# made every waiting thread force a switch every 5 ms.
SWITCH_INTERVAL_S = 0.05


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return REASONS.get(status, "Unknown")


_date = [0, ""]


def http_date() -> str:
    now = int(time.time())
    if _date[0] != now:
        _date[:] = [now, email.utils.formatdate(now, usegmt=True)]
    return _date[1]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sim"
    sys_version = ""

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args):  # noqa: A002 - no per-request logging, by design
        pass

    def do_POST(self):
        self._dispatch()

    def do_GET(self):
        self._dispatch()

    def do_DELETE(self):
        self._dispatch()

    def _dispatch(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path, _, qs = self.path.partition("?")
        query = dict(parse_qsl(qs)) if qs else {}
        self._call, self._written, reply = None, 0, None
        try:
            reply = self._reply(path, raw, query)
            self._send(reply)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            self._record(reply)

    def _record(self, reply: Reply | None) -> None:
        """An answer's prompt and the completion tokens written before it ended, whichever way
        (a chunk whose write failed is not counted)."""
        if reply is None or reply.usage is None or self._call is None:
            return
        stream, prompt = reply.events is not None, reply.usage[0]
        self.server.book.generated(
            self._call, stream=stream, prompt=prompt, completion=self._written
        )

    def _body_sent(self, r: Reply) -> None:
        self._written = r.usage[1] if r.usage else 0

    def _reply(self, path, raw, query) -> Reply:
        if path.startswith("/_sim/"):
            return control_reply(self.server.book, self.command, path, raw, query)
        if self.command == "GET" and (models := model_routes.route(path)):
            return self._models(*models, query)
        found = route(path) if self.command == "POST" else None
        if found is None:
            message = f"Unknown request URL: {self.command} {path}"
            error = {"message": message, "type": "invalid_request_error", "code": "unknown_url"}
            return compact(404, {"error": error})
        return self._chat(*found, raw, query)

    def _models(self, provider, model, query) -> Reply:
        key = behaviors.module_for(provider).key_of(self.headers, query)
        refused = self.server.book.take_models(provider, key)
        return model_routes.reply(provider, model, key, refused=refused)

    def _chat(self, provider, detail, raw, query) -> Reply:
        mod = behaviors.module_for(provider)
        key = mod.key_of(self.headers, query)
        step, self._call = self.server.book.take(provider, key)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return mod.invalid_json()
        req = mod.parse(detail, body, key)
        if step is not None:
            return behaviors.respond(provider, step.behavior, req, step.params)
        if mod.REQUIRES_KEY and not key:
            return mod.missing_key(req)
        return mod.invalid(req) or mod.success(req, {})

    def _head(self, status, content_type, headers) -> bytes:
        lines = [
            f"HTTP/1.1 {status} {reason_phrase(status)}",
            f"Date: {http_date()}",
            f"Content-Type: {content_type}",
        ]
        lines += [f"{k}: {v}" for k, v in headers]
        if self.close_connection:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send(self, r: Reply):
        if r.delay_s > 0:
            self.server.stopping.wait(min(r.delay_s, 120.0))
        if r.hang_s is not None:
            return self._hang(r.hang_s)
        if r.keepalive is not None:
            return self._keepalive(r)
        if r.events is not None:
            return self._stream(r)
        if r.slow_headers is not None:
            return self._slow_headers(r)
        headers = r.headers + [("Content-Length", str(len(r.body)))]
        if r.truncate:
            self.close_connection = True  # the rest never comes: the peer sees a short body
            r.body = r.body[: len(r.body) // 2]
        self.wfile.write(self._head(r.status, r.content_type, headers) + r.body)
        if not r.truncate:
            self._body_sent(r)

    def _slow_headers(self, r: Reply):
        """The status line, then one filler header line per interval; the rest once time is up."""
        sh = r.slow_headers
        head = self._head(
            r.status, r.content_type, r.headers + [("Content-Length", str(len(r.body)))]
        )
        status_line, rest = head.split(b"\r\n", 1)
        self.wfile.write(status_line + b"\r\n")
        deadline, n = time.monotonic() + sh.duration_s, 0
        while (left := deadline - time.monotonic()) > 0 and not self.server.stopping.is_set():
            if self._client_gone(min(sh.interval_s, left)):
                self.close_connection = True
                return
            n += 1
            self.wfile.write(b"X-Queue-Wait: %d\r\n" % n)
        self.wfile.write(rest + r.body)
        self._body_sent(r)

    def _stream(self, r: Reply):
        headers = r.headers + [("Cache-Control", "no-cache"), ("Transfer-Encoding", "chunked")]
        self.wfile.write(self._head(r.status, r.content_type, headers))
        for event in r.events:
            if isinstance(event, float):  # a pause (simulator/streams.py): a slow provider
                if self.server.stopping.is_set() or self._client_gone(min(event, 120.0)):
                    self.close_connection = True
                    return
                continue
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            self._written += getattr(event, "tokens", 0)  # written: the write did not fail
        if r.truncate:  # the connection drops mid-stream, with no last chunk
            self.close_connection = True
            return
        self.wfile.write(b"0\r\n\r\n")

    def _client_gone(self, timeout: float) -> bool:
        """Wait up to timeout; True once the client has closed its end."""
        # poll, not select: select refuses a descriptor past 1023, which a simulator serving a
        # thousand connections (bench/memsoak, bench/capacity) hands out.
        poller = select.poll()
        poller.register(self.connection, select.POLLIN)
        if not poller.poll(timeout * 1000):
            return False
        try:
            gone = self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True
        if not gone:
            self.server.stopping.wait(timeout)  # pipelined bytes: don't spin
        return gone

    def _hang(self, seconds: float):
        """Send nothing until the client leaves or seconds pass; then drop the connection."""
        self.close_connection = True
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0 and not self.server.stopping.is_set():
            if self._client_gone(min(left, 0.25)):
                return

    def _keepalive(self, r: Reply):
        ka = r.keepalive
        if ka.chunked:
            extra = [("Transfer-Encoding", "chunked")]
        else:
            self.close_connection, extra = True, []
        self.wfile.write(self._head(r.status, r.content_type, r.headers + extra))

        def write(data: bytes):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if ka.chunked else data)

        limit = ka.max_s if ka.then == "forever" else min(ka.duration_s, ka.max_s)
        deadline = time.monotonic() + limit
        while (left := deadline - time.monotonic()) > 0 and not self.server.stopping.is_set():
            write(ka.line)
            if self._client_gone(min(ka.interval_s, left)):
                self.close_connection = True
                return
        if ka.then == "forever":
            self.close_connection = True  # cut off mid-body, as a proxy giving up would
            return
        write(r.body)
        self._body_sent(r)
        if ka.chunked:
            self.wfile.write(b"0\r\n\r\n")


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # never wait for hanging handlers on close
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, host: str = "127.0.0.1", port: int = 7900, book: ScriptBook | None = None):
        super().__init__((host, port), Handler)
        self.book = book or ScriptBook()
        self.stopping = threading.Event()

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        """Release hanging handlers, stop serving, close the socket."""
        self.stopping.set()
        self.shutdown()
        self.server_close()


def start_in_thread(host: str = "127.0.0.1", port: int = 0) -> SimulatorServer:
    """Start a simulator in a daemon thread; port 0 picks a free port."""
    server = SimulatorServer(host, port)
    threading.Thread(
        target=server.serve_forever, args=(0.05,), name="llm-simulator", daemon=True
    ).start()
    return server


def serve(host: str = "127.0.0.1", port: int = 7900, out=print) -> None:
    """Run in the foreground until Ctrl-C."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    server = SimulatorServer(host, port)
    out(f"Provider simulator on {server.base_url}")
    for name, url in urls(server.base_url).items():
        out(f"  {name:9} {url}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def urls(base_url: str) -> dict[str, str]:
    """Base URLs to give the gateway for each simulated provider."""
    return {
        "groq": f"{base_url}/groq/openai/v1",
        "gemini": f"{base_url}/gemini/v1beta",
        "deepseek": f"{base_url}/deepseek",
        "openai": f"{base_url}/openai/{{name}}/v1",
        "control": f"{base_url}/_sim",
    }
