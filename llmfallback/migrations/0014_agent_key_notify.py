"""A change to what an agent key lets its caller do joins the changes PostgreSQL announces on
`d8_health` (migration 0012): each worker keeps the keys it has seen until it hears of a change
(agent_keys.agent_for_key), so a key revoked or limited in one process stops working or is
limited in every other at once, instead of within AGENT_CACHE_S.

Only the columns a request reads from the key: the usage counters and `last_used_at` change on
every request and announce nothing."""

from django.db import migrations

TABLE = "llmfallback_agentkey"
# What a worker's remembered key answers for (tests/scaleout/test_agent_key_cache.py holds
# every other column of the model to be a count or a date nothing decides by).
WATCHED = (
    "name",
    "key_hash",
    "is_operator",
    "revoked_at",
    "rpm_limit",
    "tokens_per_day",
    "allowed_providers",
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in WATCHED)
    schema_editor.execute(
        f"CREATE TRIGGER {TABLE}_d8_changed AFTER UPDATE ON {TABLE} FOR EACH ROW "
        f"WHEN ({changed}) EXECUTE FUNCTION d8_health_notify();"
    )
    schema_editor.execute(
        f"CREATE TRIGGER {TABLE}_d8_removed AFTER DELETE OR TRUNCATE ON {TABLE} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION d8_health_notify();"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in ("changed", "removed"):
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_d8_{name} ON {TABLE};")


class Migration(migrations.Migration):
    dependencies = [("llmfallback", "0013_health_notify_priority")]
    operations = [migrations.RunPython(create, drop)]
