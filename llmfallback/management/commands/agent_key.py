from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from llmfallback import agent_keys
from llmfallback.models import AgentKey


class Command(BaseCommand):
    help = (
        "Create, list or revoke agent API keys. A new key is printed once; only its hash is kept."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a key and print it once")
        create.add_argument("name")
        create.add_argument("--operator", action="store_true", help="may also reset providers")
        sub.add_parser("list", help="list keys (names and prefixes only)")
        revoke = sub.add_parser("revoke", help="revoke a key")
        revoke.add_argument("name")

    def handle(self, *args, action, **options):
        getattr(self, f"_{action}")(**options)

    def _create(self, name, operator, **_):
        try:
            _, raw = agent_keys.agent_key_create(name=name, operator=operator)
        except IntegrityError:
            raise CommandError(f"An agent key named '{name}' already exists.") from None
        self.stdout.write(raw)
        self.stderr.write(
            f"Created {'operator ' if operator else ''}key '{name}'. It is shown only once."
        )

    def _list(self, **_):
        for key in AgentKey.objects.all():
            state = "revoked" if key.revoked_at else ("operator" if key.is_operator else "agent")
            self.stdout.write(
                f"{key.name}\t{key.prefix}…\t{state}\t{key.created_at:%Y-%m-%d %H:%M}"
            )

    def _revoke(self, name, **_):
        if not agent_keys.agent_key_revoke(name=name):
            raise CommandError(f"No active agent key named '{name}'.")
        self.stdout.write(f"Revoked '{name}'.")
