from django.apps import AppConfig


class CongressConfig(AppConfig):
    name = "congress"
    verbose_name = "Congress"
    default_auto_field = "django.db.models.BigAutoField"
