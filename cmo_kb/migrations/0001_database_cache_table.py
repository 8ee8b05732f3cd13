"""The database cache's table (CACHES in cmo_kb/settings.py), made by migrate so that `make run`, the
test databases pytest-django builds and a fresh server all have it without a createcachetable step.

createcachetable makes the table of every DatabaseCache in CACHES and skips those that exist; with a
Redis or Memcached CACHE_URL it does nothing. Switching to db:// later: run
`python manage.py createcachetable` once.
"""

from django.core.management import call_command
from django.db import migrations


def create_cache_tables(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


def drop_cache_tables(apps, schema_editor):
    from django.conf import settings
    from django.core.cache import caches
    from django.core.cache.backends.db import BaseDatabaseCache

    for alias in settings.CACHES:
        cache = caches[alias]
        if isinstance(cache, BaseDatabaseCache):
            schema_editor.execute(f"DROP TABLE IF EXISTS {schema_editor.quote_name(cache._table)}")


class Migration(migrations.Migration):
    dependencies = []

    operations = [migrations.RunPython(create_cache_tables, drop_cache_tables, elidable=False)]
