"""PostgreSQL tells every worker when a provider's or key's blocking state changes
(llmfallback/health/watch.py): a NOTIFY on `d8_health`, sent at commit, only for changes to the
columns an attempt reads. SQLite has no NOTIFY; its workers read the row before each attempt."""

from django.db import migrations

WATCHED = {
    "llmfallback_providerhealth": (
        "cooldown_until",
        "is_unavailable",
        "is_enabled",
        "cooldown_episodes",
        "name",
    ),
    "llmfallback_keyhealth": ("cooldown_until", "is_unavailable", "label", "provider_id"),
}

FUNCTION = """
CREATE OR REPLACE FUNCTION d8_health_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('d8_health', '');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""


def _triggers(table: str, columns: tuple[str, ...]) -> list[str]:
    changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in columns)
    return [
        f"CREATE TRIGGER {table}_d8_changed AFTER UPDATE ON {table} FOR EACH ROW "
        f"WHEN ({changed}) EXECUTE FUNCTION d8_health_notify();",
        f"CREATE TRIGGER {table}_d8_added AFTER INSERT OR DELETE OR TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION d8_health_notify();",
    ]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION)
    for table, columns in WATCHED.items():
        for sql in _triggers(table, columns):
            schema_editor.execute(sql)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in WATCHED:
        for name in ("changed", "added"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_d8_{name} ON {table};")
    schema_editor.execute("DROP FUNCTION IF EXISTS d8_health_notify();")


class Migration(migrations.Migration):
    dependencies = [("llmfallback", "0011_alert_delivery")]
    operations = [migrations.RunPython(create, drop)]
