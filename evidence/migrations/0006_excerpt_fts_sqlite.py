"""SQLite only: the FTS5 index of excerpts (evidence/fts.py) with the triggers that keep it in step
with the table; filled from the rows already there. PostgreSQL searches its tsvector (0003)."""

from django.db import migrations

NAME = "evidence_excerpt_fts"


def forwards(apps, schema_editor):
    from evidence import fts

    fts.ensure(schema_editor.connection, [NAME])


def backwards(apps, schema_editor):
    from evidence import fts

    fts.drop(schema_editor.connection, NAME)


class Migration(migrations.Migration):
    dependencies = [("evidence", "0005_excerpt_cursor_index")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
