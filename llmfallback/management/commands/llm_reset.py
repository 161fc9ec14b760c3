"""Reset a provider's cooldown (or every provider's) from a terminal, with an audit entry."""

import getpass

from django.core.management.base import BaseCommand, CommandError

from llmfallback import selectors, services
from llmfallback.runtime import runtime


class Command(BaseCommand):
    help = "Clear the cooldown and unavailability of one provider (NAME) or of all (--all)."

    def add_arguments(self, parser):
        parser.add_argument("name", nargs="?", help="provider name, e.g. groq")
        parser.add_argument("--all", action="store_true", help="reset every provider")

    def handle(self, *args, name=None, all=False, **options):
        by = f"cli:{getpass.getuser()}"
        if all == bool(name):
            raise CommandError("Give a provider NAME or --all (not both).")
        if all:
            n = services.provider_reset_all(by=by)
            self.stdout.write(f"Reset all providers ({n} were blocked).")
            return
        known = selectors.provider_names()
        if name not in known:
            raise CommandError(f"Unknown provider '{name}'. Known: {', '.join(known) or 'none'}.")
        runtime()  # make sure the provider's health rows exist
        changed = services.provider_cooldown_reset(name=name, by=by)
        self.stdout.write(
            f"Reset {name}." if changed else f"{name} was not blocked; nothing to reset."
        )
