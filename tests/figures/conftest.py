from tests.dashboard.conftest import providers, staff, staff_client  # noqa: F401
