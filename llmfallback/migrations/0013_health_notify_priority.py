"""A provider's priority joins the columns whose change PostgreSQL announces on `d8_health`
(migration 0012): each worker keeps the providers' order until it hears of a change
(runtime.provider_order) instead of reading it again every second."""

from django.db import migrations

TABLE = "llmfallback_providerhealth"
BEFORE = ("cooldown_until", "is_unavailable", "is_enabled", "cooldown_episodes", "name")
AFTER = (*BEFORE, "priority")


def _trigger(columns: tuple[str, ...]) -> str:
    changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in columns)
    return (
        f"CREATE TRIGGER {TABLE}_d8_changed AFTER UPDATE ON {TABLE} FOR EACH ROW "
        f"WHEN ({changed}) EXECUTE FUNCTION d8_health_notify();"
    )


def _watching(columns: tuple[str, ...]):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_d8_changed ON {TABLE};")
        schema_editor.execute(_trigger(columns))

    return run


class Migration(migrations.Migration):
    dependencies = [("llmfallback", "0012_health_notify")]
    operations = [migrations.RunPython(_watching(AFTER), _watching(BEFORE))]
