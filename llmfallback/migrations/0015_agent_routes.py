"""Named routes per agent key: the route "auto" means for it, and the routes it may name.

Both decide what a request may do, so they join the columns whose change PostgreSQL announces
(migration 0014): the trigger is made again with them."""

from importlib import import_module

from django.db import migrations, models

import llmfallback.models.agents

notify = import_module("llmfallback.migrations.0014_agent_key_notify")
WATCHED = (*notify.WATCHED, "default_route", "allowed_routes")


def _trigger(schema_editor, columns) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    table = notify.TABLE
    schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_d8_changed ON {table};")
    changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in columns)
    schema_editor.execute(
        f"CREATE TRIGGER {table}_d8_changed AFTER UPDATE ON {table} FOR EACH ROW "
        f"WHEN ({changed}) EXECUTE FUNCTION d8_health_notify();"
    )


def create(apps, schema_editor):
    _trigger(schema_editor, WATCHED)


def drop(apps, schema_editor):
    _trigger(schema_editor, notify.WATCHED)


class Migration(migrations.Migration):
    dependencies = [("llmfallback", "0014_agent_key_notify")]
    operations = [
        migrations.AddField(
            model_name="agentkey",
            name="default_route",
            field=models.CharField(
                blank=True,
                help_text='The route "auto" means for this key. Empty: LLM_DEFAULT_ROUTE.',
                max_length=64,
                validators=[llmfallback.models.agents.validate_route_list],
            ),
        ),
        migrations.AddField(
            model_name="agentkey",
            name="allowed_routes",
            field=models.CharField(
                blank=True,
                help_text='Comma-separated routes this key may name ("auto" included). Empty: any.',
                max_length=500,
                validators=[llmfallback.models.agents.validate_route_list],
            ),
        ),
        migrations.RunPython(create, drop),
    ]
