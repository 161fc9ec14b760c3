"""One simulator per test module, reset before each test; plain httpx, no database."""

import httpx
import pytest

from llmfallback.simulator.control import running_simulator, simulator_env


@pytest.fixture(scope="module")
def sim_server():
    with running_simulator(port=0) as (base_url, control):
        yield base_url, control


@pytest.fixture
def ctl(sim_server):
    _, control = sim_server
    control.reset()
    return control


@pytest.fixture(scope="module")
def http():
    with httpx.Client(timeout=5.0) as client:
        yield client


@pytest.fixture
def call(sim_server, ctl, http):
    """call(provider, body=None, key=..., **httpx kwargs) -> httpx.Response, with a valid request."""
    base_url, _ = sim_server
    env = simulator_env(base_url)

    def send(provider, body=None, key="default", model="gemini-2.0-flash", path=None, **kw):
        if provider == "gemini":
            key = env["GEMINI_API_KEY"] if key == "default" else key
            url = f"{env['GEMINI_BASE_URL']}/models/{model}:{path or 'generateContent'}"
            body = body or {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}
            headers = {"x-goog-api-key": key} if key else {}
        else:
            default_key = env.get(f"{provider.upper()}_API_KEY", "sk-local")
            key = default_key if key == "default" else key
            url = {
                "groq": env["GROQ_BASE_URL"],
                "deepseek": env["DEEPSEEK_BASE_URL"],
            }.get(provider, f"{base_url}/openai/{provider}/v1") + "/chat/completions"
            body = body or {"model": "m-1", "messages": [{"role": "user", "content": "hello"}]}
            headers = {"Authorization": f"Bearer {key}"} if key else {}
        return http.post(url, json=body, headers=headers, **kw)

    return send
