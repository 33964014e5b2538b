from django.apps import AppConfig
from django.db.models.signals import post_migrate


class IntegrationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from integrations import checks  # noqa: F401  (registers them)
        from integrations.schedules import schedules_sync

        # Run once migrations are in, so that `qcluster` finds its schedules
        # after a plain `migrate`, and settings changes reach them.
        post_migrate.connect(schedules_sync, sender=self)
