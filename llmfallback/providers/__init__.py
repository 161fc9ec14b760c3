"""Provider adapters: one small module per wire format. Plain Python: core + httpx only."""

from .base import HTTPProvider
from .config import ProviderConfig, build_providers, parse_provider_configs
from .gemini import Gemini
from .openai_compat import OpenAICompatible
from .redact import redact
from .reply import Reply

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
