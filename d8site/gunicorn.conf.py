"""Production serving: `gunicorn -c d8site/gunicorn.conf.py d8site.wsgi`.

Threaded sync workers (gthread), chosen from measurements on a 2-core machine (issue 2 and
bench/): a chat request spends almost all its time waiting on the provider, so threads overlap
that wait cheaply, and one shared httpx.Client per process keeps upstream connections warm.
An async Django view under uvicorn served fewer requests at concurrency 64 with a p99 over 1 s.
Workers: one process per core (the GIL); threads: enough to keep 64 slow calls in flight.
"""

import os

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

# Hot rows (a provider's counters, the minute's usage bucket) are touched by every success:
# each worker sums its successes and writes them every 0.25 s (llmfallback/store.py SuccessBuffer).
os.environ.setdefault("LLM_SUCCESS_FLUSH_S", "0.25")
