"""HAProxy and nginx running the sample configurations of ops/ in front of our instances.

The files are the ones operators copy: only the listening address and the servers' addresses
are rewritten, so what the tests and bench/hosts prove is what the samples say."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench import stack

ROOT = Path(__file__).resolve().parents[1]
HAPROXY_SAMPLE = ROOT / "ops" / "haproxy" / "haproxy.cfg"
NGINX_SAMPLE = ROOT / "ops" / "nginx" / "d8.conf"
SAMPLE_SERVERS = ("10.0.0.11:7001", "10.0.0.12:7001")


class Missing(RuntimeError):
    """The balancer's binary is not installed."""


def binary(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if not found:
        raise Missing(f"{name} is not installed: apt-get install -y {name} (.ci/run does)")
    return found


def servers_rewritten(text: str, backends: list[str]) -> str:
    """The sample's server lines pointed at `backends` (host:port), one line per backend."""
    lines = text.splitlines()
    template = next(line for line in lines if SAMPLE_SERVERS[0] in line)
    first = lines.index(template)
    kept = [line for line in lines if not any(s in line for s in SAMPLE_SERVERS)]
    names = "abcdefghij"
    servers = [
        template.replace(SAMPLE_SERVERS[0], address).replace("server a ", f"server {names[i]} ")
        for i, address in enumerate(backends)
    ]
    return "\n".join(kept[:first] + servers + kept[first:]) + "\n"


def haproxy_config(port: int, backends: list[str], *, no_delay: bool = True, log=False) -> str:
    text = HAPROXY_SAMPLE.read_text().replace("    bind :80\n", f"    bind 127.0.0.1:{port}\n")
    if not no_delay:  # the sample without it, for the figure it changes
        text = text.replace("    option http-no-delay\n", "")
    if log:  # every request on stdout (the sample's commented log line, to the drill's log)
        text = text.replace(
            "    maxconn 4096\n", "    maxconn 4096\n    log stdout format raw local0\n"
        )
        text = text.replace(
            "    mode http\n", "    mode http\n    log global\n    option httplog\n"
        )
    return servers_rewritten(text, backends)


def nginx_config(port: int, backends: list[str], tmp: Path) -> str:
    """A minimal nginx.conf of our own around the sample (its http block's whole content)."""
    site = NGINX_SAMPLE.read_text().replace("    listen 80;\n", f"    listen 127.0.0.1:{port};\n")
    (tmp / "d8.conf").write_text(servers_rewritten(site, backends))
    temp = "".join(
        f"    {kind}_temp_path {tmp}/{kind}_temp;\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"user root;\nworker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {tmp}/nginx-error.log;\n"
        f"events {{ worker_connections 1024; }}\n"
        f"http {{\n    access_log off;\n{temp}    include {tmp}/d8.conf;\n}}\n"
    )


@contextmanager
def haproxy(backends: list[str], tmp: Path, *, no_delay: bool = True, log: bool = False):
    """HAProxy with the sample configuration; yields its base URL once it answers /readyz."""
    tmp.mkdir(parents=True, exist_ok=True)
    port, config = stack.free_port(), tmp / "haproxy.cfg"
    config.write_text(haproxy_config(port, backends, no_delay=no_delay, log=log))
    exe = binary("haproxy")
    subprocess.run([exe, "-c", "-q", "-f", str(config)], check=True, capture_output=True)
    with stack.process([exe, "-db", "-f", str(config)], env={}, log=tmp / "haproxy.log") as proc:
        base_url = f"http://127.0.0.1:{port}"
        stack.wait_until(f"{base_url}/readyz", proc, tmp / "haproxy.log", 15)
        yield base_url


@contextmanager
def nginx(backends: list[str], tmp: Path):
    """nginx with the sample configuration; yields its base URL."""
    tmp.mkdir(parents=True, exist_ok=True)
    port, config = stack.free_port(), tmp / "nginx.conf"
    config.write_text(nginx_config(port, backends, tmp))
    exe = binary("nginx")
    subprocess.run([exe, "-t", "-q", "-c", str(config)], check=True, capture_output=True)
    argv = [exe, "-c", str(config), "-g", "daemon off;"]
    with stack.process(argv, env={}, log=tmp / "nginx.log") as proc:
        base_url = f"http://127.0.0.1:{port}"
        stack.wait_until(f"{base_url}/readyz", proc, tmp / "nginx.log", 15)
        yield base_url


def wait_refused(port: int, timeout: float = 5.0) -> float:
    """Seconds until 127.0.0.1:port refuses connections (the drained host's port closed)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            httpx.get(f"http://127.0.0.1:{port}/livez", timeout=1.0)
        except httpx.ConnectError:
            return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.005)
    return float("inf")


DOWN = re.compile(r'^\[WARNING\].*Server (\S+) is DOWN, reason: ([^,]+)(?:, info: "([^"]*)")?')


def haproxy_downs(tmp: Path) -> list[str]:
    """Each time HAProxy marked a server down, and why (from its log on stdout)."""
    text = (tmp / "haproxy.log").read_text(errors="replace")
    found = (DOWN.match(line) for line in text.splitlines())
    return [f"{m[1]}: {m[2]} ({m[3] or ''})" for m in found if m]
