"""Production serving: `gunicorn -c d8site/gunicorn.conf.py d8site.wsgi`.

Threaded sync workers (gthread), chosen from measurements on a 2-core machine (issue 2 and
bench/): a chat request spends almost all its time waiting on the provider, so threads overlap
that wait cheaply, and one shared httpx.Client per process keeps upstream connections warm.
An async Django view under uvicorn served fewer requests at concurrency 64 with a p99 over 1 s.
Workers: one process per core (the GIL); threads: enough to keep 64 slow calls in flight.
"""

import os
import re

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '7001')}"
worker_class = "gthread"
workers = int(os.environ.get("WEB_WORKERS") or os.cpu_count() or 2)
threads = int(os.environ.get("WEB_THREADS") or 32)
keepalive = 5  # seconds; agents reuse connections, so the TCP handshake is paid once
# Above LLM_DEADLINE_S (60 s): gunicorn must never kill a request the engine still owns.
timeout = 120
graceful_timeout = 30
# Access log off by default (it costs CPU on every request); GUNICORN_ACCESS_LOG=- for stdout.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"


def on_starting(server):
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


# Hot rows (a provider's counters, the minute's usage bucket) are touched by every success:
# each worker sums its successes and writes them every 0.25 s (llmfallback/store.py SuccessBuffer).
os.environ.setdefault("LLM_SUCCESS_FLUSH_S", "0.25")
