"""SQLite's full-text index (FTS5) for excerpts and configurations: external-content virtual tables
kept in sync with their model's table by triggers (evidence/search.py uses them).

Made by migrations evidence/0005 and mechanisms/0003 on SQLite only (PostgreSQL has its tsvector
columns). ``ensure`` is idempotent, and runs again after every ``migrate`` (evidence/apps.py): SQLite
migrations rebuild a table to alter it (new table, copy, drop, rename), and dropping a table drops its
triggers, so a later migration of either model would silently stop the index from following writes.
When a trigger had to be made again, the index is rebuilt from the table.
"""

# name: (content table, columns)
INDEXES = {
    "evidence_excerpt_fts": ("evidence_evidenceexcerpt", ("text", "attribution", "section")),
    "mechanisms_configuration_fts": ("mechanisms_cmoconfiguration", ("title", "statement", "activity", "search_text")),
}


def _statements(name, table, columns):
    cols = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    old = ", ".join(f"old.{c}" for c in columns)
    delete = f"INSERT INTO {name}({name}, rowid, {cols}) VALUES ('delete', old.id, {old});"
    insert = f"INSERT INTO {name}(rowid, {cols}) VALUES (new.id, {new});"
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {name} USING fts5({cols}, content='{table}', content_rowid='id', "
        "tokenize='porter unicode61')",
        f"CREATE TRIGGER IF NOT EXISTS {name}_insert AFTER INSERT ON {table} BEGIN {insert} END",
        f"CREATE TRIGGER IF NOT EXISTS {name}_delete AFTER DELETE ON {table} BEGIN {delete} END",
        f"CREATE TRIGGER IF NOT EXISTS {name}_update AFTER UPDATE ON {table} BEGIN {delete} {insert} END",
    ]


def ensure(connection, names=None):
    """Make the FTS tables and triggers that are missing (SQLite only); rebuild an index whose
    triggers were missing."""
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        existing = {row[0] for row in cursor.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")}
        for name in names or INDEXES:
            table, columns = INDEXES[name]
            if table not in existing:
                continue
            triggers = {f"{name}_insert", f"{name}_delete", f"{name}_update"}
            for statement in _statements(name, table, columns):
                cursor.execute(statement)
            if not triggers <= existing:
                cursor.execute(f"INSERT INTO {name}({name}) VALUES ('rebuild')")


def drop(connection, name):
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        for suffix in ("insert", "delete", "update"):
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}_{suffix}")
        cursor.execute(f"DROP TABLE IF EXISTS {name}")


def migration_operation(name):
    """The operation of a migration that makes the FTS5 index `name` (and drops it going back)."""
    from django.db import migrations

    return migrations.RunPython(
        lambda apps, schema_editor: ensure(schema_editor.connection, [name]),
        lambda apps, schema_editor: drop(schema_editor.connection, name),
        elidable=False,
    )
