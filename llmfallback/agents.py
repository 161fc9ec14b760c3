"""The seed's agent interface: `BaseAgent(genome=Genome(prompt=…)).act(input_data={…})`."""

from __future__ import annotations

import json
import uuid
import warnings
from dataclasses import dataclass

import httpx
from django.conf import settings

REMOTE_TIMEOUT_S = 120  # the gateway's own deadline bounds the call; this only guards a dead socket


@dataclass
class Genome:
    prompt: str
    generation: int = 1


class BaseAgent:
    """Acts through the in-process manager, or a remote gateway when D8_GATEWAY_URL and D8_AGENT_KEY are set."""

    def __init__(self, genome: Genome, llm_manager=None, groq_api_key: str | None = None) -> None:
        if groq_api_key is not None:
            warnings.warn(
                "groq_api_key is ignored: the gateway uses its configured providers.",
                DeprecationWarning,
                stacklevel=2,
            )
        self.genome = genome
        self.agent_id = uuid.uuid4().hex[:8]
        self.llm_manager = llm_manager

    def act(self, input_data: dict, action_type: str = "analyze") -> dict:
        """Ask the LLM; returns success, result, llm_provider and escalated_to_congress (with ids)."""
        messages = [
            {"role": "system", "content": self.genome.prompt},
            {
                "role": "user",
                "content": f"Action: {action_type}\nInput: {json.dumps(input_data, ensure_ascii=False)}",
            },
        ]
        context = f"Agent {self.agent_id} - Action: {action_type}"
        if self.llm_manager is None and settings.D8_GATEWAY_URL and settings.D8_AGENT_KEY:
            return self._act_remote(messages, context)
        return self._act_local(messages, context)

    def _act_local(self, messages: list[dict], context: str) -> dict:
        from .manager import get_llm_manager

        manager = self.llm_manager or get_llm_manager()
        outcome = manager.ask(messages=messages, context=context)
        if outcome.content is None:
            escalation = outcome.escalation or {"escalated_to_congress": False}
            return {"success": False, "result": None, "llm_provider": "failed", **escalation}
        return {
            "success": True,
            "result": outcome.content,
            "llm_provider": outcome.provider,
            "escalated_to_congress": False,
        }

    def _act_remote(self, messages: list[dict], context: str) -> dict:
        url = settings.D8_GATEWAY_URL.rstrip("/") + "/api/llm/chat"
        headers = {"Authorization": f"Bearer {settings.D8_AGENT_KEY}"}
        try:
            r = httpx.post(
                url,
                json={"messages": messages, "context": context},
                headers=headers,
                timeout=REMOTE_TIMEOUT_S,
            )
            body = r.json()
        except (httpx.HTTPError, ValueError) as e:
            return {
                "success": False,
                "result": None,
                "llm_provider": "failed",
                "escalated_to_congress": False,
                "error": f"gateway unreachable: {type(e).__name__}",
            }
        if r.status_code == 200:
            return {
                "success": True,
                "result": body["content"],
                "llm_provider": body["provider"],
                "escalated_to_congress": False,
            }
        extra = {
            k: body.get(k)
            for k in ("escalation_id", "escalation_number", "proposal_id", "proposal_code")
            if k in body
        }
        return {
            "success": False,
            "result": None,
            "llm_provider": "failed",
            "escalated_to_congress": bool(body.get("escalated_to_congress")),
            "error": body.get("detail"),
            **extra,
        }
