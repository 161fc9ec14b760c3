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
