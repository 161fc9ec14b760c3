"""Drive a running simulator from tests, benchmarks and scripts."""

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from .book import key_fingerprint
from .server import start_in_thread

__all__ = ["SimulatorControl", "key_fingerprint", "running_simulator", "simulator_env"]


class SimulatorControl:
    """A thin client for the /_sim control API."""

    def __init__(self, base_url: str, timeout: float = 5.0):
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=f"{self.base_url}/_sim", timeout=timeout)

    def script(
        self, provider: str, steps: list[dict], key: str | None = None, replace=True
    ) -> None:
        """Queue behaviours for a provider (only for requests carrying `key`, if given)."""
        payload = {"provider": provider, "steps": steps, "replace": replace}
        if key is not None:
            payload["key"] = key
        self._http.post("/script", json=payload).raise_for_status()

    def calls(self) -> dict[str, int]:
        """Chat requests received per provider since the last reset."""
        return self._http.get("/calls").raise_for_status().json()

    def calls_by_key(self) -> dict[str, dict[str, int]]:
        """Chat requests per provider per key fingerprint (see key_fingerprint)."""
        return self._http.get("/calls", params={"by": "key"}).raise_for_status().json()

    def model_calls(self) -> dict[str, int]:
        """GET requests on model routes (the gateway's auth probes) per provider."""
        return self._http.get("/model_calls").raise_for_status().json()

    def refuse_keys(self, *secrets: str) -> None:
        """Answer requests carrying these keys with the provider's auth error, chat and model
        routes alike, until called again (with none: accept every key again)."""
        keys = [key_fingerprint(s) for s in secrets]
        self._http.post("/refused_keys", json={"keys": keys}).raise_for_status()

    def chaos_start(self, **config) -> dict:
        """Start chaos mode (see chaos.ChaosConfig for the options); returns the whole plan."""
        return self._http.post("/chaos", json=config).raise_for_status().json()

    def chaos(self) -> dict:
        """The running plan, when it started (epoch seconds) and whether it is over."""
        return self._http.get("/chaos").raise_for_status().json()

    def chaos_stop(self) -> None:
        self._http.delete("/chaos").raise_for_status()

    def tokens(self) -> dict[str, dict[str, dict[str, int]]]:
        """What the answers generated since the last reset, per provider, for "stream" and
        "plain" answers: calls, prompt_tokens and completion_tokens (those written to the
        socket before the stream ended or the client left)."""
        return self._http.get("/tokens").raise_for_status().json()

    def call_log(self, since: int = 0) -> dict:
        """{"calls": [{t (epoch), mono, provider, key (fingerprint), served}], "next": n}; an
        answer's entry also has stream, prompt_tokens and completion_tokens once it ended."""
        return self._http.get("/log", params={"since": since}).raise_for_status().json()

    def reset(self) -> None:
        """Clear every script, counter, the call log and chaos."""
        self._http.post("/reset").raise_for_status()

    def close(self) -> None:
        self._http.close()


@contextmanager
def running_simulator(
    port: int = 0, host: str = "127.0.0.1"
) -> Iterator[tuple[str, SimulatorControl]]:
    """Start a simulator in a daemon thread; yield (base_url, control); stop it afterwards."""
    server = start_in_thread(host, port)
    control = SimulatorControl(server.base_url)
    try:
        yield server.base_url, control
    finally:
        control.close()
        server.stop()


def simulator_env(base_url: str) -> dict[str, str]:
    """Environment variables pointing the gateway's providers at a simulator, with dummy keys."""
    base_url = base_url.rstrip("/")
    return {
        "GROQ_BASE_URL": f"{base_url}/groq/openai/v1",
        "GROQ_API_KEY": "gsk_sim_0000000000000000000000000000000000000000000000000",
        "GEMINI_BASE_URL": f"{base_url}/gemini/v1beta",
        "GEMINI_API_KEY": "AIza_sim0000000000000000000000000000000",
        "DEEPSEEK_BASE_URL": f"{base_url}/deepseek",
        "DEEPSEEK_API_KEY": "sk-sim00000000000000000000000000000",
    }
