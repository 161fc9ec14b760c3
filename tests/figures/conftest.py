from tests.dashboard.conftest import staff, staff_client  # noqa: F401
