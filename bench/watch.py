"""What the hosts drill watches besides the agents: the readiness probes' latency under load,
and a draining host's port, connection by connection."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter

from bench import drill

PROBE_EVERY_S = 0.25  # as often as a balancer with a few checks per second
READYZ = b"GET /readyz HTTP/1.0\r\n\r\n"


def readyz(port: int, timeout: float = 5.0) -> int:
    """The status of one GET /readyz on a new connection, as a balancer's check sends it (raw:
    an HTTP client's own set-up would weigh more than the probe it measures)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(READYZ)
        head = sock.recv(64)
    if not head.startswith(b"HTTP/"):
        raise ConnectionResetError("closed without an answer")
    return int(head.split()[1])


class ProbeWatch:
    """GET /readyz on each running host, a new connection each time, as HAProxy checks."""

    def __init__(self, hosts: list) -> None:
        self.hosts, self.latencies_ms = hosts, []
        self._stop = threading.Event()
        # A daemon, as every watcher here: a drill that fails before stopping it still exits.
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(PROBE_EVERY_S):
            for host in self.hosts:
                if not host.serving:
                    continue
                started = time.perf_counter()
                try:
                    readyz(host.port)
                except OSError:
                    continue  # starting or stopping: the drain watch judges that
                self.latencies_ms.append((time.perf_counter() - started) * 1000)

    def figures(self) -> dict:
        ms = self.latencies_ms
        return {
            "count": len(ms),
            "p50_ms": drill.percentile(ms, 0.5),
            "p99_ms": drill.percentile(ms, 0.99),
            "max_ms": max(ms, default=float("nan")),
        }


class DrainWatch:
    """SIGTERM a host, then open a new connection to its port every few milliseconds until it
    has exited: each must be answered or refused, none left waiting."""

    def __init__(self, host) -> None:
        self.host, self.outcomes = host, Counter()
        self.signalled_at = self.exited_at = self.refused_at = 0.0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.signalled_at = time.time()
        self.host.term()
        self._thread.start()

    def stop(self) -> None:
        self._thread.join()

    def _run(self) -> None:
        while True:
            kind = self._one()
            self.outcomes[kind] += 1
            if kind == "refused" and not self.refused_at:
                self.refused_at = time.time()
            if not self.host.alive() and self.refused_at:
                break
            time.sleep(0.005)
        self.exited_at = time.time()

    def _one(self) -> str:
        try:
            status = readyz(self.host.port)
        except ConnectionRefusedError:
            return "refused"
        except TimeoutError:
            return "left waiting"
        except OSError:
            return "reset"
        return "ready" if status == 200 else "not ready"

    def figures(self) -> dict:
        return {
            "signalled_at": self.signalled_at,
            "exited_at": self.exited_at,
            "refused_after_s": (self.refused_at or float("inf")) - self.signalled_at,
            "outcomes": dict(self.outcomes),
            "left_waiting": self.outcomes["left waiting"],
        }
