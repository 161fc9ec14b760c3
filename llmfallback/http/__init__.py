"""The faces agents call: the OpenAI-compatible /v1 (openai.py)."""
