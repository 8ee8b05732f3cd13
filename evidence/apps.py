from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_fts(using, **kwargs):
    from django.db import connections

    from evidence import fts

    fts.ensure(connections[using])


class EvidenceConfig(AppConfig):
    name = "evidence"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # After every migrate: a SQLite table rebuild drops the FTS triggers (evidence/fts.py).
        post_migrate.connect(_ensure_fts, sender=self, dispatch_uid="evidence_fts")
