import argparse

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from llmfallback.access import agent_keys
from llmfallback.models import AgentKey


def _limit(value: str) -> int | None:
    """A whole number, or "none" for no limit."""
    if value.lower() == "none":
        return None
    if not value.isdigit():
        raise ValueError(value)
    return int(value)


def _route(value: str) -> str:
    """A route's name; "none" (or empty) for LLM_DEFAULT_ROUTE."""
    return "" if value.strip().lower() in ("", "none") else value.strip()


def _providers(value: str) -> str:
    """Comma-separated provider (or route) names; "all" (or empty) for every one."""
    names = [n.strip() for n in value.split(",") if n.strip()]
    return "" if names in ([], ["all"]) else ",".join(names)


class Command(BaseCommand):
    help = (
        "Create, list or revoke agent API keys and set their limits. A new key is printed once; "
        "only its hash is kept."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a key and print it once")
        create.add_argument("name")
        create.add_argument("--operator", action="store_true", help="may also reset providers")
        _limit_arguments(create)
        sub.add_parser("list", help="list keys (names, prefixes and limits only)")
        limits = sub.add_parser("limits", help="change a key's limits (the others stay)")
        limits.add_argument("name")
        _limit_arguments(limits)
        revoke = sub.add_parser("revoke", help="revoke a key")
        revoke.add_argument("name")

    def handle(self, *args, action, **options):
        getattr(self, f"_{action}")(**options)

    def _create(self, name, operator, **options):
        changes = _changes(options)
        try:
            _, raw = agent_keys.agent_key_create(name=name, operator=operator)
        except IntegrityError:
            raise CommandError(f"An agent key named '{name}' already exists.") from None
        if changes:
            try:
                agent_keys.agent_key_limits_set(name=name, **changes)
            except ValidationError as e:
                AgentKey.objects.filter(name=name).delete()  # no key with limits other than asked
                raise CommandError("; ".join(e.messages)) from None
        self.stdout.write(raw)
        self.stderr.write(
            f"Created {'operator ' if operator else ''}key '{name}'. It is shown only once."
        )

    def _limits(self, name, **options):
        changes = _changes(options)
        if not changes:
            raise CommandError(
                "Give --rpm, --tokens-per-day, --providers, --default-route or --routes."
            )
        try:
            key = agent_keys.agent_key_limits_set(name=name, **changes)
        except AgentKey.DoesNotExist:
            raise CommandError(f"No active agent key named '{name}'.") from None
        except ValidationError as e:
            raise CommandError("; ".join(e.messages)) from None
        self.stdout.write(f"{key.name}\t{_describe(key)}")

    def _list(self, **_):
        for key in AgentKey.objects.all():
            state = "revoked" if key.revoked_at else ("operator" if key.is_operator else "agent")
            self.stdout.write(
                f"{key.name}\t{key.prefix}…\t{state}\t{key.created_at:%Y-%m-%d %H:%M}"
                f"\t{_describe(key)}"
            )

    def _revoke(self, name, **_):
        if not agent_keys.agent_key_revoke(name=name):
            raise CommandError(f"No active agent key named '{name}'.")
        self.stdout.write(f"Revoked '{name}'.")


def _limit_arguments(parser) -> None:
    # SUPPRESS: an option not given is absent, so "--rpm none" (no limit) differs from no --rpm.
    unset = argparse.SUPPRESS
    parser.add_argument(
        "--rpm", type=_limit, default=unset, help='requests per minute ("none": no limit)'
    )
    parser.add_argument(
        "--tokens-per-day", type=_limit, default=unset, help='tokens per UTC day ("none")'
    )
    parser.add_argument(
        "--providers",
        type=_providers,
        default=unset,
        help='providers it may use, e.g. groq,gemini ("all": every one)',
    )
    parser.add_argument(
        "--default-route",
        type=_route,
        default=unset,
        help='the route "auto" means for it, e.g. fast ("none": LLM_DEFAULT_ROUTE)',
    )
    parser.add_argument(
        "--routes",
        type=_providers,
        default=unset,
        help='routes it may name, e.g. auto,fast ("all": any, providers included)',
    )


_UNSET = object()


def _changes(options: dict) -> dict:
    """Only the limits given on the command line ("none" and "all" are given values)."""
    given = {
        "rpm_limit": options.get("rpm", _UNSET),
        "tokens_per_day": options.get("tokens_per_day", _UNSET),
        "allowed_providers": options.get("providers", _UNSET),
        "default_route": options.get("default_route", _UNSET),
        "allowed_routes": options.get("routes", _UNSET),
    }
    return {k: v for k, v in given.items() if v is not _UNSET}


def _describe(key: AgentKey) -> str:
    rpm = "no limit" if key.rpm_limit is None else key.rpm_limit
    tpd = "no limit" if key.tokens_per_day is None else key.tokens_per_day
    return (
        f"rpm={rpm}\ttokens/day={tpd}\tproviders={key.allowed_providers or 'all'}"
        f"\troutes={key.allowed_routes or 'all'}\tdefault route={key.default_route or '-'}"
    )
