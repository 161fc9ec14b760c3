"""The web workers' C allocator, set for hundreds of threads (issue 21's memory soak).

glibc gives every thread a cache of the chunks it freed (tcache: up to 7 of each size up to
1 KiB) that no other thread reuses. A worker runs 512 threads. Under 1,000 concurrent streams
(bench/memsoak) these caches scattered the malloc arenas: they grew from 40 MB to 150-240 MB a
worker in three minutes, and RSS grew with every minute served. Meanwhile Python's own memory
(tracemalloc, sys.getallocatedblocks) and the collector's objects stayed flat. Other settings
did not help: 16 KiB reads instead of 64 KiB, M_ARENA_MAX=2 set at fork, and malloc_trim every
20 s, which only slowed the growth.

With the cache off, the arenas stayed at 40 MB and RSS followed only the number of threads.
The CPU cost was within noise: 1.46-1.47 ms a request, against 1.49-1.58 ms with the cache
(c=64, 0 ms upstream).

glibc reads GLIBC_TUNABLES only when a program starts. So the gunicorn master restarts itself
with it once, in the same process (the pid is kept), at on_starting: before it binds a socket or
forks a worker, as gunicorn's own USR2 upgrade re-executes itself. WEB_MALLOC_TUNING=false
leaves the allocator as it is; so does a GLIBC_TUNABLES that already sets the cache's size.
"""

from __future__ import annotations

import os
import platform
import sys

from d8site.env import flag

TUNABLE = "glibc.malloc.tcache_count"
SETTING = f"{TUNABLE}=0"


def tuned_environ(environ, libc: str | None = None) -> dict | None:
    """The environment to start again with, or None when there is nothing to change."""
    libc = platform.libc_ver()[0] if libc is None else libc
    if libc != "glibc" or not flag(environ.get("WEB_MALLOC_TUNING", ""), True):
        return None
    current = environ.get("GLIBC_TUNABLES", "")
    names = {item.split("=", 1)[0].strip() for item in current.split(":")}
    if TUNABLE in names:  # the operator chose the cache's size: theirs stands
        return None
    return dict(environ) | {"GLIBC_TUNABLES": f"{current}:{SETTING}" if current else SETTING}


def restart_tuned(server, *, environ=os.environ, execve=os.execve) -> None:
    """From gunicorn's on_starting: the master, started again with the tuned allocator."""
    env = tuned_environ(environ)
    if env is None:
        return
    server.log.info(
        "Starting again with GLIBC_TUNABLES=%s (d8site/malloc_tuning.py)", env["GLIBC_TUNABLES"]
    )
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os.chdir(server.START_CTX["cwd"])  # where it was started: relative paths mean the same
    execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)
