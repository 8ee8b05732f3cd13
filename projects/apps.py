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
        # Not limited to this app's signal: post_migrate fires app by app, and the apps after `projects`
        # (mechanisms, evidence) only have their permissions once their own signal has run (this matters
        # after a flush, e.g. between transactional tests).
        post_migrate.connect(_sync_roles, dispatch_uid="projects.sync_roles")
        from projects import membership

        membership.connect()
