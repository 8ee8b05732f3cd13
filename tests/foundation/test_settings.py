"""Settings come from the environment; production refuses insecure values."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _check(env):
    full_env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "ALLOWED_HOSTS"}}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    "env, message",
    [
        ({"DEBUG": "0"}, "SECRET_KEY must be set when DEBUG is off"),
        ({"DEBUG": "0", "SECRET_KEY": "short"}, "SECRET_KEY is insecure"),
        ({"DEBUG": "0", "SECRET_KEY": "django-insecure-" + "x" * 60}, "SECRET_KEY is insecure"),
        ({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean"),
    ],
)
def test_refuses_to_start_with_insecure_settings(env, message):
    result = _check(env)
    assert result.returncode != 0
    assert message in result.stderr


def test_starts_with_a_strong_secret_key_and_debug_off():
    key = "k9#Vq2!pL7zR4@wX8&nT1^mB6*cF3$hJ5%dG0(sY)eU-aI=oP+lK"
    result = _check({"DEBUG": "0", "SECRET_KEY": key, "ALLOWED_HOSTS": "kb.example.org"})
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_database_url_defaults_to_sqlite_in_the_project_folder():
    code = "from django.conf import settings; print(settings.DATABASES['default']['ENGINE'], settings.DATABASES['default']['NAME'])"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DJANGO_SETTINGS_MODULE"] = "cmo_kb.settings"
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); " + code], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    engine, name = out.stdout.split()
    assert engine == "django.db.backends.sqlite3"
    assert name == str(ROOT / "db.sqlite3")


def test_no_model_changes_lack_a_migration():
    result = subprocess.run(
        [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"], cwd=ROOT,
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.django_db
def test_postgresql_connections_run_without_jit():
    """JIT compiled the crosswalk matrix's overestimated plan for 5 s before a 2 ms query ran."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("JIT is PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone() == ("off",)
