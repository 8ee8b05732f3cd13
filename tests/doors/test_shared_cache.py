"""Throttle counts live where every worker process sees them: on the database cache (the default)
in the upserted counter table cmo_kb_throttle, one query per request; otherwise in the Redis or
Memcached cache of CACHE_URL. (The rest of the suite runs the throttles on a per-process cache,
see tests/conftest.py.)"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from cmo_kb.settings import env_cache

ROOT = Path(__file__).resolve().parents[2]

# One worker process: counts `tries` anonymous requests from one address against a 5/day
# throttle and prints which were allowed.
WORKER = """
import json, sys
import django
django.setup()
from django.conf import settings
from django.test import RequestFactory
from rest_framework.request import Request
from cmo_kb.throttles import AnonThrottle

# (per day: the windows are fixed, and two slow process starts could straddle a minute's end)
settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anon": "5/day", "user": "5/day"}}
from rest_framework.settings import api_settings
api_settings.reload()
request = Request(RequestFactory().get("/api/teams/", REMOTE_ADDR="203.0.113.9"))
print(json.dumps([AnonThrottle().allow_request(request, None) for _ in range(int(sys.argv[1]))]))
"""


def run_worker(tries, database_url):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "cmo_kb.settings", "DATABASE_URL": database_url, "DEBUG": "1"}
    env.pop("CACHE_URL", None)  # the default: the database cache
    result = subprocess.run(
        [sys.executable, "-c", WORKER, str(tries)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def database_url_of(settings_dict):
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    user, host, port = settings_dict.get("USER") or "", settings_dict.get("HOST") or "", settings_dict.get("PORT") or ""
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{host}:{port}/{settings_dict['NAME']}"


def test_two_processes_share_the_count_on_a_sqlite_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    env = {**os.environ, "DATABASE_URL": url}
    env.pop("CACHE_URL", None)
    # The counter table's migration (and auth's, whose permissions migrate adds for it).
    for app in ("auth", "cmo_kb"):
        subprocess.run([sys.executable, "manage.py", "migrate", app], cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
    assert run_worker(3, url) == [True, True, True]
    # a second process sees the first one's three requests: two more, then refused
    assert run_worker(3, url) == [True, True, False]


@pytest.mark.django_db(transaction=True)
def test_two_processes_share_the_count_on_the_test_database(settings):
    """On PostgreSQL, against the suite's own test database (its cache table made as the database was)."""
    from django.db import connection

    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip("an in-memory SQLite database is not visible to another process (the SQLite file case covers it)")
    url = database_url_of(connection.settings_dict)
    try:
        assert run_worker(4, url) == [True, True, True, True]
        assert run_worker(2, url) == [True, False]
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM cmo_kb_throttle")


@pytest.mark.django_db
def test_the_counter_table_is_unlogged_on_postgresql():
    """Its commits then wait for no WAL flush (cmo_kb/migrations/0003_throttle_counter_unlogged.py)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no unlogged tables")
    with connection.cursor() as cursor:
        cursor.execute("SELECT relpersistence FROM pg_class WHERE relname = 'cmo_kb_throttle'")
        assert cursor.fetchone() == ("u",)


@pytest.mark.django_db
def test_the_api_throttles_on_the_database_cache(settings, kb, anon_client):
    from django.db import connection

    settings.CACHES = {"default": env_cache("CACHE_URL_UNSET_IN_TESTS")}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anon": "2/minute", "user": "2/minute"}}
    assert [anon_client.get("/api/teams/").status_code for _ in range(3)] == [200, 200, 429]
    with connection.cursor() as cursor:
        cursor.execute("SELECT key, count FROM cmo_kb_throttle")
        counts = dict(cursor.fetchall())
    # both throttles count an anonymous client by address; the third request was counted and refused
    assert counts == {"throttle_anon_127.0.0.1": 3, "throttle_user_127.0.0.1": 3}, counts


@pytest.mark.django_db
def test_a_throttle_costs_one_query_on_the_database_cache(settings, kb, anon_client, analyst_client):
    """The per-request price of the throttles on the default cache: the list's own queries plus one
    upsert, whether it counts the client under both rates (an anonymous client, by address) or under
    one (a signed-in client, by account)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def list_queries(client):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/api/excerpts/?page_size=5").status_code == 200
        return [q["sql"] for q in ctx.captured_queries]

    anon_client.get("/api/excerpts/?page_size=5")
    analyst_client.get("/api/excerpts/?page_size=5")  # its token row is read on every request
    on_locmem = {"anon": list_queries(anon_client), "analyst": list_queries(analyst_client)}
    settings.CACHES = {"default": env_cache("CACHE_URL_UNSET_IN_TESTS")}
    on_database = {"anon": list_queries(anon_client), "analyst": list_queries(analyst_client)}
    for who, keys in (("anon", ["throttle_anon_127.0.0.1", "throttle_user_127.0.0.1"]), ("analyst", None)):
        extra = [sql for sql in on_database[who] if "cmo_kb_throttle" in sql]
        assert len(extra) == 1, (who, extra)
        assert extra[0].startswith("INSERT INTO cmo_kb_throttle")
        if keys:
            assert all(f"'{key}'" in extra[0] for key in keys), extra[0]
        assert len(on_database[who]) == len(on_locmem[who]) + 1
        assert not [sql for sql in on_database[who] if "cmo_kb_cache" in sql]


@pytest.mark.parametrize(
    "url,backend,location",
    [
        (None, "django.core.cache.backends.db.DatabaseCache", "cmo_kb_cache"),
        ("db://", "django.core.cache.backends.db.DatabaseCache", "cmo_kb_cache"),
        ("db://other_cache", "django.core.cache.backends.db.DatabaseCache", "other_cache"),
        ("redis://cache.internal:6379/1", "django.core.cache.backends.redis.RedisCache", "redis://cache.internal:6379/1"),
        ("rediss://:pw@cache.internal:6380/0", "django.core.cache.backends.redis.RedisCache", "rediss://:pw@cache.internal:6380/0"),
        ("memcached://m1:11211,m2:11211", "django.core.cache.backends.memcached.PyMemcacheCache", ["m1:11211", "m2:11211"]),
        ("locmem://", "django.core.cache.backends.locmem.LocMemCache", "cmo-kb"),
    ],
)
def test_cache_url(monkeypatch, url, backend, location):
    if url is None:
        monkeypatch.delenv("CACHE_URL", raising=False)
    else:
        monkeypatch.setenv("CACHE_URL", url)
    cache = env_cache("CACHE_URL")
    assert (cache["BACKEND"], cache["LOCATION"]) == (backend, location)


@pytest.mark.parametrize("url", ["mysql://x", "memcached://", "redis"])
def test_a_bad_cache_url_refuses_to_start(monkeypatch, url):
    monkeypatch.setenv("CACHE_URL", url)
    with pytest.raises(ImproperlyConfigured, match="CACHE_URL="):
        env_cache("CACHE_URL")
