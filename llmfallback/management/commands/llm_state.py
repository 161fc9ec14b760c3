"""`manage.py llm_state export`: write the whole health state as fallback_state.json (the seed's file)."""

from django.core.management.base import BaseCommand

from llmfallback.escalation.report import state_export


class Command(BaseCommand):
    help = (
        "Export the gateway's health state (providers, errors, escalations) as fallback_state.json."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["export"])

    def handle(self, *args, **options):
        path = state_export()
        self.stdout.write(f"Wrote {path}")
