"""Production serving: `gunicorn -c d8site/gunicorn.conf.py d8site.wsgi`.

Threaded sync workers (gthread), chosen from measurements on a 2-core machine (issue 2 and
bench/): a chat request spends almost all its time waiting on the provider, so threads overlap
that wait cheaply, and one shared httpx.Client per process keeps upstream connections warm.
An async Django view under uvicorn served fewer requests at concurrency 64 with a p99 over 1 s.
Workers: one process per core (the GIL); threads: 640 each, to keep a thousand agents' calls in
flight while providers think for seconds (README: "Capacity", bench/capacity).
"""

import math
import os
import re
import sys
from pathlib import Path

from d8site import db_budget, drain, malloc_tuning, serving
from d8site.env import env_file_load, flag

# .env (D8_ENV_FILE) reaches gunicorn's own settings below, as it reaches Django's.
env_file_load(Path(__file__).resolve().parent.parent)

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '7001')}"
# gthread that reads each request whole before it gives it a thread, queues what its threads
# cannot take yet and sheds past that (d8site/gunicorn_worker.py); WEB_WORKER_CLASS=gthread
# for gunicorn's own.
worker_class = os.environ.get("WEB_WORKER_CLASS") or "d8site.gunicorn_worker.CapacityWorker"
workers = int(os.environ.get("WEB_WORKERS") or os.cpu_count() or 2)
_limits = serving.Limits.from_env(os.environ)
threads = _limits.threads
worker_connections = _limits.connections
keepalive = 5  # seconds; agents reuse connections, so the TCP handshake is paid once
# Above LLM_DEADLINE_S (60 s): gunicorn must never kill a request the engine still owns.
timeout = 120
# On SIGTERM each worker drains (d8site/drain.py): this long for what it holds to finish; by
# default the longest a stream may live.
graceful_timeout = math.ceil(drain.graceful_timeout_s())
# Access log off by default (it costs CPU on every request); GUNICORN_ACCESS_LOG=- for stdout.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"


def post_worker_init(worker):
    drain.install(worker)
    sys.setswitchinterval(_limits.switch_interval_s)  # serving.SWITCH_INTERVAL_S says why


def on_starting(server):
    malloc_tuning.restart_tuned(server)  # once, before anything is bound or forked
    _control_socket(server)
    _socket_per_worker(server)


def when_ready(server):
    db_budget.check(server)  # warns when all hosts' connections could pass max_connections


def _control_socket(server):
    """gunicorn's control socket (`gunicornc`), one per address served. gunicorn's own default
    is one per user ($XDG_RUNTIME_DIR/gunicorn.ctl or ~/.gunicorn/gunicorn.ctl): a second
    gunicorn of the same user (another instance, a blue/green deploy, any other app) takes that
    path over, and whichever stops first deletes it under the other. Named here after the bind
    as given on the command line too (`manage.py serve --port`), before gunicorn opens it.
    GUNICORN_CONTROL_SOCKET: a path of your own, or `off`; `--control-socket` still wins."""
    try:
        from gunicorn.config import ControlSocket
    except ImportError:  # gunicorn before 25.1 opens no control socket
        return
    cfg = server.cfg
    chosen = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
    if chosen.lower() == "off":
        cfg.set("control_socket_disable", True)
    elif chosen:
        cfg.set("control_socket", chosen)
    elif cfg.control_socket == ControlSocket.default:
        folder = os.path.dirname(ControlSocket.default)
        name = re.sub(r"[^A-Za-z0-9.]+", "-", cfg.bind[0]).strip("-")
        cfg.set("control_socket", os.path.join(folder, f"d8-{name}.ctl"))


MIGRATE_REQ = "/proc/sys/net/ipv4/tcp_migrate_req"


def _socket_per_worker(server):
    """Each worker listens on a socket of its own (SO_REUSEPORT) and the kernel spreads new
    connections evenly among them. On gunicorn's one shared socket, whichever worker woke first
    took a burst of new connections: wrk's 64 went 64/0, 11/53, 26/38 between the two workers
    (`ss`, bench c=64), and the busy one's threads shared one core (the GIL) while the other
    idled. /api/llm/chat served 540 to 842 req/s at c=64 against the 50 ms upstream; with a
    socket per worker, 855 to 895, and every split within 26/38. (The worker class above now
    bounds the shared socket's splits too, by each worker's free threads.)

    The price: connections waiting in a worker's own queue when it dies are reset, where the
    shared socket would give them to another worker, unless Linux migrates them
    (net.ipv4.tcp_migrate_req=1). The crash drill (bench/crash.py) caught it: a worker killed
    under load cut off more requests than were in flight. So by default (WEB_REUSE_PORT unset or
    `auto`) only where that sysctl is on; WEB_REUSE_PORT=1 or 0 decides regardless.

    Only for TCP addresses with a port of their own: a Unix socket path, a port 0, sockets handed
    over by systemd (LISTEN_FDS) or by a re-exec'ing master keep the shared socket. A port
    something else already listens on is refused, as it is with the shared socket: otherwise a
    second instance started by mistake would silently take half of the connections. (Not
    checked when a re-exec'ing master starts: sharing is the point then.)
    """
    import socket
    import sys

    from gunicorn.util import parse_address

    cfg = server.cfg
    if cfg.reuse_port or not hasattr(socket, "SO_REUSEPORT") or not reuse_port_wanted():
        return
    if os.environ.get("LISTEN_FDS") or os.environ.get("GUNICORN_FD"):
        return
    addresses = []
    for bind in cfg.bind:
        if bind.startswith(("unix:", "fd://")):
            return
        address = parse_address(bind)
        if not isinstance(address, tuple) or not address[1]:
            return
        addresses.append(address)
    for host, port in addresses:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as e:
                server.log.error("Connection in use: %s:%s (%s)", host, port, e)
                sys.exit(1)
    cfg.set("reuse_port", True)
    server.log.info("One listening socket per worker (SO_REUSEPORT): %s", ", ".join(cfg.bind))


def reuse_port_wanted(environ=os.environ, migrate_req: str = MIGRATE_REQ) -> bool:
    """WEB_REUSE_PORT as d8site/env.py's env_bool reads it; unset or `auto`: whether the kernel
    hands a closed listener's queued connections to the others (net.ipv4.tcp_migrate_req)."""
    chosen = environ.get("WEB_REUSE_PORT", "").strip().lower()
    if chosen and chosen != "auto":
        return flag(chosen, False)
    try:
        with open(migrate_req) as f:
            return f.read().strip() == "1"
    except OSError:  # not Linux, or before 5.14
        return False


# Hot rows (a provider's counters, the minute's usage bucket) are touched by every success:
# each worker sums its successes and writes them every 0.25 s (llmfallback/health/store.py SuccessBuffer).
os.environ.setdefault("LLM_SUCCESS_FLUSH_S", "0.25")
