"""The API edge: what every answer under settings.API_PATH_PREFIXES has in common.

Shared by llmfallback and congress, so it lives with the project rather than in either app.
"""

from django.conf import settings


def is_api_path(path: str) -> bool:
    """True for URLs whose errors must be JSON (the /api/ prefixes), not the HTML pages."""
    return path.startswith(tuple(settings.API_PATH_PREFIXES))
