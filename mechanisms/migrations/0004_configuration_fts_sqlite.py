"""SQLite only: the FTS5 index of configurations (title, statement, activity, search_text; see
evidence/fts.py) with the triggers that keep it in step. PostgreSQL searches its tsvector (0002)."""

from django.db import migrations

NAME = "mechanisms_configuration_fts"


def forwards(apps, schema_editor):
    from evidence import fts

    fts.ensure(schema_editor.connection, [NAME])


def backwards(apps, schema_editor):
    from evidence import fts

    fts.drop(schema_editor.connection, NAME)


class Migration(migrations.Migration):
    dependencies = [("mechanisms", "0003_configuration_status_counts_index")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
