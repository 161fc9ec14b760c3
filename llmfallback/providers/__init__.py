"""Provider adapters: one small module per wire format. Plain Python: core + httpx only."""

from .base import HTTPProvider, Reply
from .config import ProviderConfig, build_providers, parse_provider_configs
from .gemini import Gemini
from .openai_compat import OpenAICompatible
from .redact import redact

__all__ = [
    "Gemini",
    "HTTPProvider",
    "OpenAICompatible",
    "ProviderConfig",
    "Reply",
    "build_providers",
    "parse_provider_configs",
    "redact",
]
