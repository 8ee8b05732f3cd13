"""Full-text search for configurations.

Both databases get the columns; only PostgreSQL gets the trigger that fills search_vector and the GIN
index over it (SQLite searches with icontains, see evidence/search.py). The trigger rather than a
GeneratedField because the expression (to_tsvector) does not exist on SQLite and a model field must be
the same on both. The index is not declared in Meta.indexes for the same reason: SQLite table rebuilds
would try to create a GIN index.
"""

import django.contrib.postgres.search
from django.db import migrations, models

TRIGGER_SQL = """
CREATE OR REPLACE FUNCTION mechanisms_cmoconfiguration_search_vector() RETURNS trigger AS $$
BEGIN
    NEW.search_vector :=
        setweight(to_tsvector('pg_catalog.english', coalesce(NEW.title, '')), 'A') ||
        setweight(to_tsvector('pg_catalog.english', coalesce(NEW.statement, '')), 'B') ||
        setweight(to_tsvector('pg_catalog.english',
                              coalesce(NEW.activity, '') || ' ' || coalesce(NEW.search_text, '')), 'C');
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER mechanisms_cmoconfiguration_search_vector_update
    BEFORE INSERT OR UPDATE OF title, statement, activity, search_text, search_vector
    ON mechanisms_cmoconfiguration
    FOR EACH ROW EXECUTE FUNCTION mechanisms_cmoconfiguration_search_vector();

CREATE INDEX mechanisms_cmoconfiguration_search_gin
    ON mechanisms_cmoconfiguration USING gin (search_vector);
"""

DROP_SQL = """
DROP INDEX IF EXISTS mechanisms_cmoconfiguration_search_gin;
DROP TRIGGER IF EXISTS mechanisms_cmoconfiguration_search_vector_update ON mechanisms_cmoconfiguration;
DROP FUNCTION IF EXISTS mechanisms_cmoconfiguration_search_vector();
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGER_SQL)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL)


def backfill(apps, schema_editor):
    """Fill search_text for rows that exist already; on PostgreSQL the update fires the trigger."""
    CMOConfiguration = apps.get_model("mechanisms", "CMOConfiguration")
    words = {pk: [] for pk in CMOConfiguration.objects.values_list("pk", flat=True)}
    for relation, target in ((CMOConfiguration.contexts, "context"), (CMOConfiguration.outcomes, "outcome")):
        for pk, name in relation.through.objects.order_by(f"{target}__order", f"{target}__name").values_list(
            "cmoconfiguration_id", f"{target}__name"
        ):
            words[pk].append(name)
    for pk, names in words.items():
        CMOConfiguration.objects.filter(pk=pk).update(search_text="\n".join(names))


class Migration(migrations.Migration):
    dependencies = [
        ("mechanisms", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="cmoconfiguration",
            name="search_text",
            field=models.TextField(blank=True, default="", editable=False),
        ),
        migrations.AddField(
            model_name="cmoconfiguration",
            name="search_vector",
            field=django.contrib.postgres.search.SearchVectorField(editable=False, null=True),
        ),
        migrations.RunPython(create_trigger, drop_trigger),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
