import pytest


@pytest.fixture(autouse=True)
def settle_at_once(settings):
    """Most tests here are about what recovery does, not when: the first success recovers.

    Tests of the settling time itself set LLM_INCIDENT_SETTLE_S again.
    """
    settings.LLM_INCIDENT_SETTLE_S = 0
