"""Latency histogram 1 ms - 60 s in 62 log-spaced buckets (x1.2), replacing 25 ms - 10 s.

The old buckets were too coarse to tell 1 ms from 20 ms (every fast provider read p50 12 ms).
Their counts are kept: each old bucket's count moves to the new bucket holding its middle
(0-25 ms to 12.5 ms, 25-50 ms to 35 ms, ...; above 10 s to just above 10 s). So old minutes keep
their request counts and a rough shape, but percentiles over them are only as fine as before;
they age out of the 24 h cards and charts within a day. Reversing drops the histogram.
"""

import math

from django.db import migrations, models
from django.db.models import F

OLD = {  # old column -> a latency (ms) representing it
    "le_25": 12.5,
    "le_50": math.sqrt(25 * 50),
    "le_100": math.sqrt(50 * 100),
    "le_250": math.sqrt(100 * 250),
    "le_500": math.sqrt(250 * 500),
    "le_1000": math.sqrt(500 * 1000),
    "le_2500": math.sqrt(1000 * 2500),
    "le_5000": math.sqrt(2500 * 5000),
    "le_10000": math.sqrt(5000 * 10000),
    "le_inf": 10_001.0,
}
# The bounds as this migration wrote them (models.LATENCY_BOUNDS_MS may change later).
BOUNDS = [round(1.2**k * 1000) / 1000 for k in range(61)] + [60_000.0]
NEW = [f"h{i:02}" for i in range(len(BOUNDS))] + ["h_inf"]


def new_column(latency_ms: float) -> str:
    return next((c for c, b in zip(NEW, BOUNDS, strict=False) if latency_ms <= b), "h_inf")


def move_counts(apps, schema_editor):
    UsageBucket = apps.get_model("llmfallback", "UsageBucket")
    for old, latency_ms in OLD.items():
        target = new_column(latency_ms)
        UsageBucket.objects.exclude(**{old: 0}).update(**{target: F(target) + F(old)})


class Migration(migrations.Migration):
    dependencies = [
        ("llmfallback", "0008_agent_limits"),
    ]

    operations = [
        *(
            migrations.AddField(
                model_name="usagebucket", name=name, field=models.PositiveIntegerField(default=0)
            )
            for name in NEW
        ),
        migrations.RunPython(move_counts, migrations.RunPython.noop),
        *(migrations.RemoveField(model_name="usagebucket", name=old) for old in OLD),
    ]
