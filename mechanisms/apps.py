from django.apps import AppConfig


class MechanismsConfig(AppConfig):
    name = "mechanisms"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import dependents, publish_lock

        publish_lock.connect()
        dependents.connect()
