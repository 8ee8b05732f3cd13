"""The three roles, as auth groups, and the permissions each holds.

Groups are created by a data migration (projects/migrations/0002_roles.py); their permissions are
synced again after every migrate so that models added later are covered too.
"""

from cmo_kb.vocabulary import ANALYST_GROUP, EVALUATOR_GROUP, LEAD_EVALUATOR_GROUP

CURATED_APPS = ("projects", "mechanisms", "evidence")
PUBLISH_CODENAME = "publish_cmoconfiguration"


def role_permission_filters():
    """(group name, predicate over (app_label, codename)) for every role."""

    def evaluator(app_label, codename):
        if app_label in CURATED_APPS:
            return codename != PUBLISH_CODENAME
        return app_label == "authtoken" and codename in {"add_token", "view_token", "add_tokenproxy", "view_tokenproxy"}

    def lead(app_label, codename):
        return evaluator(app_label, codename) or (app_label == "mechanisms" and codename == PUBLISH_CODENAME)

    def analyst(app_label, codename):
        # Analysts read through the API, where visibility follows the role, not model permissions.
        # They hold none here, so even an account wrongly marked as staff sees nothing in the admin
        # (model view permissions would show drafts there).
        return False

    return [(EVALUATOR_GROUP, evaluator), (LEAD_EVALUATOR_GROUP, lead), (ANALYST_GROUP, analyst)]


def sync_role_permissions(group_model, permission_model):
    """Create the role groups if missing and set exactly the permissions each role holds."""
    permissions = list(permission_model.objects.select_related("content_type"))
    for name, allowed in role_permission_filters():
        group, _ = group_model.objects.get_or_create(name=name)
        wanted = [p for p in permissions if allowed(p.content_type.app_label, p.codename)]
        group.permissions.set(wanted)
