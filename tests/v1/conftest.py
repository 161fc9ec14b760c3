"""Helpers for the /v1 tests: an OpenAI-style body and a POST in the agent's name."""

import pytest


def ask(content="Hi", model="auto", **fields) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": content}], **fields}


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}


@pytest.fixture
def chat(agent, use_providers, sim):
    """POST a /v1/chat/completions body as the agent; returns the response."""

    def post(body):
        return agent.post("/v1/chat/completions", body, format="json")

    return post


@pytest.fixture
def gateway(live_server, use_providers, sim):
    """(base_url, api_key) of the live gateway for the openai SDK, chat over the simulator."""
    from llmfallback.access import agent_keys

    _, raw = agent_keys.agent_key_create(name="sdk-agent")
    return f"{live_server.url}/v1", raw


def openai_client(gateway):
    """The sync SDK on the gateway; its own retries off, so a test sees exactly one answer."""
    import openai

    base_url, key = gateway
    return openai.OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=20)
