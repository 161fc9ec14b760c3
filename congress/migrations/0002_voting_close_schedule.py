"""Close proposals whose voting deadline passed, every minute (a django-q2 schedule row, created once)."""

from django.db import migrations

FUNC = "congress.tasks.voting_close_due"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.get_or_create(
        func=FUNC,
        defaults={
            "name": "congress: close due votes",
            "schedule_type": "I",
            "minutes": 1,
            "repeats": -1,
        },
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(func=FUNC).delete()


class Migration(migrations.Migration):
    dependencies = [("congress", "0001_initial"), ("django_q", "__latest__")]
    operations = [migrations.RunPython(create_schedule, delete_schedule)]
