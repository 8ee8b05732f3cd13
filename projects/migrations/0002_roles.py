"""Create the Evaluator, Lead evaluator and Analyst groups with their permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def create_roles(apps, schema_editor):
    # Permissions are normally created after migrate; make them now so the groups can hold them.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    from projects.roles import sync_role_permissions

    sync_role_permissions(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))


def remove_roles(apps, schema_editor):
    from cmo_kb.vocabulary import ANALYST_GROUP, EVALUATOR_GROUP, LEAD_EVALUATOR_GROUP

    apps.get_model("auth", "Group").objects.filter(
        name__in=[EVALUATOR_GROUP, LEAD_EVALUATOR_GROUP, ANALYST_GROUP]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("authtoken", "0004_alter_tokenproxy_options"),
        ("projects", "0001_initial"),
        ("mechanisms", "0001_initial"),
        ("evidence", "0002_initial"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
