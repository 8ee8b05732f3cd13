"""Rows that configurations (or outcomes) use through a many-to-many relation cannot be deleted
while they are used: Django would silently drop them from those rows (a context disappears from a
configuration, whose page then says "Not recorded"). A foreign key says this with PROTECT; a
many-to-many cannot, so this module does, for every path: the admin lists the dependents on its
delete page (CuratedAdmin.get_deleted_objects), and any other delete (API, shell, commands, bulk
deletes) raises ProtectedError, which the API answers with a 409 naming them.

PROTECTED_BY names, per model, the reverse many-to-many managers that protect its rows.
"""

from django.db.models import ProtectedError
from django.db.models.signals import pre_delete

PROTECTED_BY = {
    "mechanisms.context": ("configurations",),
    "mechanisms.outcome": ("configurations",),
    "projects.team": ("configurations",),
    "projects.qualitydomain": ("configurations", "outcomes"),
    "evidence.code": ("memos",),  # a memo about a code would lose it (evidence/codes.py)
}


def dependent_managers(obj):
    """(relation name, manager) for each protecting relation of obj's model."""
    return [(name, getattr(obj, name)) for name in PROTECTED_BY.get(obj._meta.label_lower, ())]


def dependents(obj, limit=50):
    """The rows that use obj and would lose it if it were deleted (at most `limit` per relation)."""
    return [dependent for _, manager in dependent_managers(obj) for dependent in manager.all()[:limit]]


def _refuse_delete_while_used(sender, instance, **kwargs):
    used_by = dependents(instance)
    if used_by:
        names = ", ".join(str(d) for d in used_by[:10]) + (" …" if len(used_by) > 10 else "")
        raise ProtectedError(
            f"Cannot delete {instance._meta.verbose_name} '{instance}': it is used by {names}. "
            "Remove it from them first.",
            set(used_by),
        )


def connect():
    from django.apps import apps

    for label in PROTECTED_BY:
        pre_delete.connect(_refuse_delete_while_used, sender=apps.get_model(label), dispatch_uid=f"dependents:{label}")
