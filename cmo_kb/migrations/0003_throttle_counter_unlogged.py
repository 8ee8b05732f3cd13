"""The throttle counters in an UNLOGGED table on PostgreSQL.

Every API request upserts its counter rows (cmo_kb/throttles.py) in a transaction of its own, and a
commit that wrote to an ordinary table waits for its WAL record to reach the disk: an fsync, 3 ms
per upsert on the benchmark machine, twice per anonymous request, the largest part of what every
API list cost above its SQL. A transaction that writes only unlogged tables writes no WAL, so its
commit waits for nothing (0.1 ms). What is given up is fine for counters of a minute's requests:
after a crash PostgreSQL empties the table (every client starts a fresh window), and a streaming
replica has it empty. SQLite has no such tables: nothing to do there.
"""

from django.db import migrations

TABLE = "cmo_kb_throttle"


def set_unlogged(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {schema_editor.quote_name(TABLE)} SET UNLOGGED")


def set_logged(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {schema_editor.quote_name(TABLE)} SET LOGGED")


class Migration(migrations.Migration):
    dependencies = [("cmo_kb", "0002_throttle_counter")]

    operations = [migrations.RunPython(set_unlogged, set_logged, elidable=False)]
