"""SQLite only: the FTS5 index of excerpts (evidence/fts.py) with the triggers that keep it in step
with the table; filled from the rows already there. PostgreSQL searches its tsvector (0003)."""

from django.db import migrations

from evidence import fts


class Migration(migrations.Migration):
    dependencies = [("evidence", "0005_excerpt_cursor_index")]

    operations = [fts.migration_operation("evidence_excerpt_fts")]
