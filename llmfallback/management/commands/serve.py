"""Run the whole embedded set-up: migrations, the web server, the django-q2 cluster, and
the provider simulator when no provider is configured.

Without DJANGO_SECRET_KEY, the settings make a random key in DJANGO_SECRET_KEY_FILE
(data/secret_key) when this command starts the first time, and every later start, web workers
and task cluster alike, reads it from there: django-q2 signs its task packages with it, so the
process that queues a task and the one that runs it must agree.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time

import httpx
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from d8site import serving
from d8site.drain import MARGIN_S
from llmfallback.access import agent_keys
from llmfallback.models import AgentKey
from llmfallback.simulated_env import simulated_env_remove, simulated_env_write
from llmfallback.simulator.control import SimulatorControl, simulator_env


class Command(BaseCommand):
    # The provider checks would warn about missing keys we are about to simulate.
    requires_system_checks: list = []
    # How long each child may take to stop before it is killed: gunicorn drains its requests
    # and streams for up to WEB_GRACEFUL_TIMEOUT (d8site/drain.py), so that long and a margin.
    stop_wait_s: float | None = None
    help = "Serve the gateway on PORT (default 7001) with its task cluster; simulate providers if none is configured."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_WORKERS") or 2))
        parser.add_argument(
            "--threads", type=int, default=int(os.environ.get("WEB_THREADS") or serving.THREADS)
        )
        parser.add_argument(
            "--simulator",
            choices=["auto", "on", "off"],
            default="auto",
            help="auto: simulate providers only when none is configured",
        )
        parser.add_argument(
            "--simulator-port", type=int, default=int(os.environ.get("SIMULATOR_PORT", 7900))
        )

    def handle(self, *args, **opts):
        simulate = self._simulate(opts["simulator"])
        # Before anything starts: a port already taken (often a `serve` still running) would
        # otherwise end in a child's traceback after "Serving on", or worse, in this run
        # scripting and using the other run's simulator, which answers on that port.
        _port_free(opts["host"], opts["port"], "--port or PORT")
        if simulate:
            _port_free("127.0.0.1", opts["simulator_port"], "--simulator-port or SIMULATOR_PORT")
        call_command("migrate", interactive=False, verbosity=0)  # and the task schedules (apps.py)
        call_command("collectstatic", interactive=False, verbosity=0)
        env = dict(os.environ)
        children: list[subprocess.Popen] = []
        # From the first child on: a SIGTERM (e.g. `timeout`, systemd) must stop them, not orphan them.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            if simulate:
                simulated = self._start_simulator(opts["simulator_port"], children)
                env |= simulated
                # So llm_health, agent_key and llm_state in another terminal see these providers.
                simulated_env_write(settings.LLM_DATA_DIR, simulated, pid=os.getpid())
            else:
                self.check()  # warns about providers missing what they need
            self._first_run_credentials()
            self._secret_key_note()
            children.append(self._spawn([sys.executable, "manage.py", "qcluster"], env))
            children.append(self._spawn(self._gunicorn(opts), env))
            self.stdout.write(
                f"Serving on http://{opts['host']}:{opts['port']}  (dashboard: /dashboard/llm)"
            )
            self._wait(children)
        finally:
            self._stop(children)
            simulated_env_remove(settings.LLM_DATA_DIR, pid=os.getpid())

    def _simulate(self, mode: str) -> bool:
        return mode == "on" or (mode == "auto" and all(c.missing for c in settings.LLM_PROVIDERS))

    def _start_simulator(self, port: int, children: list) -> dict:
        base_url = f"http://127.0.0.1:{port}"
        children.append(
            self._spawn(
                [sys.executable, "-m", "llmfallback.simulator", "--port", str(port)], os.environ
            )
        )
        _wait_until_up(f"{base_url}/_sim/health")
        # So a newcomer sees a fallback at once: Groq's first answer is a real 429.
        SimulatorControl(base_url).script("groq", [{"behavior": "rate_limit", "retry_after": 20}])
        self.stdout.write(
            f"No provider configured: simulating Groq, Gemini and DeepSeek at {base_url}"
        )
        names = ",".join(
            c.name for c in settings.LLM_PROVIDERS if c.name in {"groq", "gemini", "deepseek"}
        )
        return simulator_env(base_url) | {"LLM_SIMULATED_PROVIDERS": names}

    def _first_run_credentials(self) -> None:
        """On an empty database, make a staff login and an agent key, shown once."""
        User = get_user_model()
        admins = User.objects.filter(is_superuser=True).order_by("pk")
        if not admins.exists():
            password = secrets.token_urlsafe(12)
            User.objects.create_superuser("admin", "", password)
            self.stdout.write(f"Created staff user 'admin' with password: {password}  (shown once)")
        else:
            # The password was shown once, on the first run: say how to get in again.
            name = admins.values_list(User.USERNAME_FIELD, flat=True).first()
            self.stdout.write(
                f"Log in as '{name}' at /accounts/login/. Lost the password? "
                f"Set a new one: python manage.py changepassword {name}"
            )
        if not AgentKey.objects.exists():
            _, raw = agent_keys.agent_key_create(name="demo", operator=True)
            self.stdout.write(f"Created operator agent key 'demo': {raw}  (shown once)")
        else:
            # Keys are shown once and only their hash is kept: say how to get another.
            self.stdout.write(
                "Agent keys are shown only when made. A new one: "
                "python manage.py agent_key create NAME [--operator] (or in the admin)"
            )

    def _secret_key_note(self) -> None:
        if not os.environ.get("DJANGO_SECRET_KEY"):
            self.stdout.write(f"Secret key: {settings.SECRET_KEY_FILE} (keep it private)")

    def _gunicorn(self, opts) -> list[str]:
        # The production config (d8site/gunicorn.conf.py), with this command's host and sizes.
        return [
            sys.executable, "-m", "gunicorn", "-c", "d8site/gunicorn.conf.py", "d8site.wsgi",
            "--workers", str(opts["workers"]),
            "--threads", str(opts["threads"]),
            "--bind", f"{opts['host']}:{opts['port']}",
        ]  # fmt: skip

    def _spawn(self, argv: list[str], env) -> subprocess.Popen:
        # A session of its own per child: stopping it stops what it forked too (django-q2's
        # workers), and Ctrl-C reaches only this command, which then stops them in order.
        return subprocess.Popen(argv, env=env, cwd=settings.BASE_DIR, start_new_session=True)

    def _wait(self, children: list) -> None:
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        for child in children:
            if child.poll() is not None:
                self.stderr.write(
                    f"{' '.join(child.args[:4])} exited with {child.returncode}; stopping."
                )

    def stop_wait(self) -> float:
        """How long a child may take to stop: gunicorn's graceful time and a margin."""
        return self.stop_wait_s or settings.WEB_GRACEFUL_TIMEOUT_S + MARGIN_S

    def _stop(self, children: list) -> None:
        # A second SIGTERM or Ctrl-C while stopping would abort the stop and orphan the rest.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        # SIGTERM to each child's main process only: it stops what it forked in its own order.
        # Sent to the whole group, django-q2's workers died under a cluster still waiting on
        # them, and `serve` sat out stop_wait_s before killing it: 11.6 s per stop, now 4 s.
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=self.stop_wait())
            except subprocess.TimeoutExpired:
                pass
            _signal_group(child, signal.SIGKILL)  # whatever of the group is still there


def _signal_group(child: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(child.pid, sig)
    except ProcessLookupError:
        pass


def _port_free(host: str, port: int, option: str) -> None:
    """CommandError naming the port and how to choose another, if something listens on it.

    SO_REUSEADDR as the servers themselves bind: a port a stopped run left in TIME_WAIT is
    free to them, and so it is free here."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            raise CommandError(
                f"Port {port} on {host} is not free ({e.strerror}): is another `manage.py "
                f"serve` still running? Stop it, or choose another port with {option}."
            ) from None


def _wait_until_up(url: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url, timeout=1.0).raise_for_status()
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
