"""Full-text search for evidence excerpts.

The column exists on both databases; only PostgreSQL gets the trigger that fills it (text weighted A,
attribution B, section C) and the GIN index (see mechanisms/0002 for why not a GeneratedField).
"""

import django.contrib.postgres.search
from django.db import migrations

TRIGGER_SQL = """
CREATE OR REPLACE FUNCTION evidence_evidenceexcerpt_search_vector() RETURNS trigger AS $$
BEGIN
    NEW.search_vector :=
        setweight(to_tsvector('pg_catalog.english', coalesce(NEW.text, '')), 'A') ||
        setweight(to_tsvector('pg_catalog.english', coalesce(NEW.attribution, '')), 'B') ||
        setweight(to_tsvector('pg_catalog.english', coalesce(NEW.section, '')), 'C');
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER evidence_evidenceexcerpt_search_vector_update
    BEFORE INSERT OR UPDATE OF text, attribution, section, search_vector
    ON evidence_evidenceexcerpt
    FOR EACH ROW EXECUTE FUNCTION evidence_evidenceexcerpt_search_vector();

CREATE INDEX evidence_evidenceexcerpt_search_gin
    ON evidence_evidenceexcerpt USING gin (search_vector);

UPDATE evidence_evidenceexcerpt SET search_vector = NULL;
"""

DROP_SQL = """
DROP INDEX IF EXISTS evidence_evidenceexcerpt_search_gin;
DROP TRIGGER IF EXISTS evidence_evidenceexcerpt_search_vector_update ON evidence_evidenceexcerpt;
DROP FUNCTION IF EXISTS evidence_evidenceexcerpt_search_vector();
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGER_SQL)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL)


class Migration(migrations.Migration):
    dependencies = [
        ("evidence", "0002_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="evidenceexcerpt",
            name="search_vector",
            field=django.contrib.postgres.search.SearchVectorField(editable=False, null=True),
        ),
        migrations.RunPython(create_trigger, drop_trigger),
    ]
