"""The scale-out service fixture (gunicorn on SQLite, and on PostgreSQL with Redis)."""

from tests.scaleout.conftest import service  # noqa: F401
