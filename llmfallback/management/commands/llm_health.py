"""Print the providers' health as a table: the same figures as /api/llm/health."""

from django.core.management.base import BaseCommand

from llmfallback.dashboard import selectors as ds
from llmfallback.dashboard.templatetags.llm_dashboard import countdown

COLUMNS = (
    "#",
    "provider",
    "state",
    "until",
    "success",
    "requests",
    "failures",
    "in a row",
    "p50",
    "p95",
    "last error",
)


class Command(BaseCommand):
    help = (
        "Print every provider's health (state, cooldown, counts, latency, last error) as a table."
    )

    def handle(self, *args, **options):
        rows = [_row(i, card) for i, card in enumerate(ds.provider_cards(), start=1)]
        widths = [max(len(str(r[c])) for r in [COLUMNS, *rows]) for c in range(len(COLUMNS))]
        for r in [COLUMNS, ["-" * w for w in widths], *rows]:
            self.stdout.write(
                "  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
            )
        for card in ds.provider_cards():
            for key in card["key_list"]:
                if key["in_cooldown"] or not key["is_available"]:
                    state = (
                        "unavailable"
                        if not key["is_available"]
                        else f"cooling {countdown(key['cooldown_remaining_s'])}"
                    )
                    self.stdout.write(
                        f"  key {card['name']}/{key['label']}: {state} ({key['last_error_type'] or '-'})"
                    )


def _row(index: int, card: dict) -> list:
    latency = card["latency"]
    return [
        index,
        card["name"] + (" (simulated)" if card["simulated"] else ""),
        card["state"].replace("_", " "),
        countdown(card["cooldown_remaining_s"]) if card["cooldown_remaining_s"] else "-",
        f"{card['success_rate']}%" if card["total_requests"] else "-",
        card["total_requests"],
        card["total_failures"],
        card["consecutive_failures"],
        f"{latency['p50']} ms" if latency["p50"] is not None else "-",
        f"{latency['p95']} ms" if latency["p95"] is not None else "-",
        card["last_error_type"] or "-",
    ]
