"""A stand-in for llmfallback.health.watch.HealthWatch in the tests of what a worker keeps
until a change is heard (the provider order, agent keys)."""


class HeardWatch:
    """A health watch whose notifications are heard (version) or not (None)."""

    def __init__(self, version):
        self.at = version

    def version(self):
        return self.at
