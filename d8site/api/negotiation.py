"""Content negotiation that a stray `?format=` cannot turn into a 404."""

from rest_framework.negotiation import DefaultContentNegotiation


class FormatLenientNegotiation(DefaultContentNegotiation):
    """DRF answers 404 to `?format=<a format no renderer has>`: a query parameter made a valid
    URL "not found" (schemathesis found it on every list endpoint). An unknown format is ignored
    and the Accept header decides; a known one (the schema's `?format=yaml`) still selects."""

    def filter_renderers(self, renderers, format):
        return [r for r in renderers if r.format == format] or renderers
