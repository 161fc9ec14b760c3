import os

import pytest


@pytest.fixture
def env(tmp_path):
    """This environment without gunicorn's and the service's serving settings, and a home of its
    own: gunicorn's default control socket lives under $HOME (or $XDG_RUNTIME_DIR)."""
    home = tmp_path / "home"
    home.mkdir()
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("GUNICORN", "XDG_", "WEB_"))}
    return kept | {"HOME": str(home)}
