"""Which host holds an escalation's file: a copy; the document is served from the row."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("llmfallback", "0015_agent_routes"),
    ]

    operations = [
        migrations.AddField(
            model_name="escalation",
            name="file_host",
            field=models.CharField(blank=True, max_length=255),
        ),
    ]
