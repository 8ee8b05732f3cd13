"""SQLite only: the FTS5 index of configurations (title, statement, activity, search_text; see
evidence/fts.py) with the triggers that keep it in step. PostgreSQL searches its tsvector (0002)."""

from django.db import migrations

from evidence import fts


class Migration(migrations.Migration):
    dependencies = [("mechanisms", "0003_configuration_status_counts_index")]

    operations = [fts.migration_operation("mechanisms_configuration_fts")]
