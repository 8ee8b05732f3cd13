from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender, **kwargs):
    from django.contrib.auth.models import Group, Permission

    from projects.roles import sync_role_permissions

    sync_role_permissions(Group, Permission)


class ProjectsConfig(AppConfig):
    name = "projects"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # After every migrate, so permissions of models added since the roles migration are included.
        post_migrate.connect(_sync_roles, sender=self, dispatch_uid="projects.sync_roles")
