"""d8 LLM Fallback. The seed's Python API: `from llmfallback import get_llm_manager, FallbackConfig`."""

__all__ = ["FallbackConfig", "LLMFallbackManager", "get_llm_manager"]


def __getattr__(name: str):
    # Imported lazily: this package is also a Django app, loaded before the app registry is ready.
    if name in __all__:
        from . import manager

        return getattr(manager, name)
    raise AttributeError(name)
