"""Deploying it: `manage.py check --deploy` is silent with the production environment the README
documents, settings refuse bad values, a 500 is logged to stderr with its traceback, `make serve`
refuses to start without SECRET_KEY/ALLOWED_HOSTS and otherwise serves with gunicorn, DEBUG off and
collected static files, and every response carries the Content-Security-Policy."""

import gzip
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)

# The README's "Running in production" environment (behind a TLS proxy that sets X-Forwarded-Proto).
PRODUCTION_ENV = {
    "DEBUG": "0",
    "ALLOWED_HOSTS": "kb.example.org",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
    "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
    "DB_CONN_MAX_AGE": "60",
}
# Variables the tests' own environment may carry that would change what the subprocess sees.
CLEARED = set(PRODUCTION_ENV) | {
    "SECRET_KEY", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "CSRF_TRUSTED_ORIGINS", "LOG_LEVEL",
    "DJANGO_SETTINGS_MODULE", "HOST", "WEB_CONCURRENCY",
    # tests/conftest.py sets it for Playwright; check --deploy rightly refuses it (async.E001).
    "DJANGO_ALLOW_ASYNC_UNSAFE",
}


def environment(**overrides):
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(SECRET_KEY=secrets.token_urlsafe(50))
    env.update({k: v for k, v in overrides.items() if v is not None})
    return env


def manage(*args, env, timeout=120):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_check_deploy_reports_nothing_with_the_documented_environment():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=environment(**PRODUCTION_ENV))
    # (the one silenced is axes.W006, by-account lockout on purpose: see cmo_kb/settings.py)
    assert (result.returncode, result.stdout.strip(), result.stderr) == (
        0, "System check identified no issues (1 silenced).", ""
    )


def test_check_deploy_names_what_is_missing_without_hsts_and_redirect():
    env = environment(**{k: v for k, v in PRODUCTION_ENV.items() if not k.startswith(("SECURE_HSTS", "SECURE_SSL"))})
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "security.W004" in output and "security.W008" in output  # HSTS, SSL redirect
    assert "security.W012" not in output and "security.W016" not in output  # cookies are secure by default


def print_settings(*names, env):
    code = "import django, json; django.setup(); from django.conf import settings as s; " \
           f"print(json.dumps([getattr(s, n) for n in {list(names)!r}]))"
    return subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR, capture_output=True, text=True, timeout=60,
                          env={**env, "DJANGO_SETTINGS_MODULE": "cmo_kb.settings"})


def test_settings_read_https_and_proxy_from_the_environment():
    result = print_settings("SECURE_PROXY_SSL_HEADER", "SECURE_HSTS_SECONDS", "SECURE_HSTS_PRELOAD",
                            "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "DEBUG",
                            env=environment(**PRODUCTION_ENV))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '[["HTTP_X_FORWARDED_PROTO", "https"], 31536000, true, true, true, false]'


@pytest.mark.parametrize("name, value, message", [
    ("SECURE_PROXY_SSL_HEADER", "X Forwarded Proto", "is not a header name"),
    ("SECURE_HSTS_SECONDS", "a year", "is not a whole number"),
    ("SECURE_HSTS_SECONDS", "-1", "is negative"),
    ("SECURE_SSL_REDIRECT", "maybe", "is not a boolean"),
    ("LOG_LEVEL", "LOUD", "is not a level"),
])
def test_settings_refuse_bad_values(name, value, message):
    result = manage("check", env=environment(**{**PRODUCTION_ENV, name: value}))
    assert result.returncode == 1
    assert message in result.stderr and name in result.stderr


FAILING_VIEW = """
import django
django.setup()
from django.test import Client, override_settings
from django.urls import include, path

def broken(request):
    raise RuntimeError("boom: a bug the log must show")

# The project's own URLs too: the site's 500 page links to them.
urlpatterns = [path("broken/", broken), path("", include("cmo_kb.urls"))]
with override_settings(ROOT_URLCONF=__name__, ALLOWED_HOSTS=["testserver"]):
    response = Client(raise_request_exception=False).get("/broken/")
print(response.status_code)
"""


def test_a_500_is_logged_to_stderr_with_its_traceback(tmp_path):
    env = environment(**{**PRODUCTION_ENV, "SECURE_SSL_REDIRECT": "0"}, DJANGO_SETTINGS_MODULE="cmo_kb.settings",
                      STATIC_ROOT=str(tmp_path / "static"))
    # As in production (make serve): the 500 page's stylesheet comes from collectstatic's manifest.
    collected = subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
                               cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120)
    assert collected.returncode == 0, collected.stderr
    result = subprocess.run([sys.executable, "-c", FAILING_VIEW], cwd=BASE_DIR, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.stdout.strip() == "500", result.stderr
    assert re.search(r"ERROR django\.request \[pid \d+\] Internal Server Error: /broken/", result.stderr), result.stderr
    assert "Traceback (most recent call last):" in result.stderr
    assert "RuntimeError: boom: a bug the log must show" in result.stderr


def make_serve(env):
    return subprocess.run(["make", "--no-print-directory", "serve"], cwd=BASE_DIR, env=env, capture_output=True,
                          text=True, timeout=120)


def test_make_serve_refuses_without_a_secret_key():
    env = environment(ALLOWED_HOSTS="127.0.0.1")
    del env["SECRET_KEY"]
    result = make_serve(env)
    assert result.returncode != 0
    assert "make serve: SECRET_KEY is not set" in result.stderr
    assert "secrets.token_urlsafe(50)" in result.stderr


def test_make_serve_refuses_without_allowed_hosts():
    result = make_serve(environment())
    assert result.returncode != 0
    assert "make serve: ALLOWED_HOSTS is not set" in result.stderr


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url, **headers):
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_make_serve_runs_gunicorn_with_debug_off_and_collected_static_files(tmp_path):
    """The whole `make serve` on a fresh SQLite database: migrate, collectstatic, gunicorn with two
    workers; pages and the API answer with DEBUG off, static files come hashed and compressed."""
    port = free_port()
    env = environment(ALLOWED_HOSTS="127.0.0.1", HOST=f"127.0.0.1:{port}", WEB_CONCURRENCY="2",
                      DATABASE_URL=f"sqlite:///{tmp_path / 'serve.sqlite3'}")
    log = open(tmp_path / "serve.log", "w+")
    server = subprocess.Popen(["make", "--no-print-directory", "serve"], cwd=BASE_DIR, env=env, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 150
        while True:
            try:
                status, headers, body = fetch(base + "/")
                break
            except OSError:
                assert server.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(1)
        assert status == 200, body[:500]
        assert "'self'" in headers["Content-Security-Policy"]
        # Collected, hashed static files (CompressedManifestStaticFilesStorage), served gzipped.
        stylesheet = re.search(rb'href="(/static/css/pages\.[0-9a-f]{12}\.css)"', body)
        assert stylesheet, body[:2000]
        status, headers, css = fetch(base + stylesheet.group(1).decode(), **{"Accept-Encoding": "gzip"})
        assert status == 200 and headers.get("Content-Encoding") == "gzip"
        assert b".site-header" in gzip.decompress(css)
        status, headers, body = fetch(base + "/api/teams/")
        assert (status, headers["Content-Type"]) == (200, "application/json")
        # DEBUG is off: an unknown page is the site's 404, not Django's debug page.
        status, _, body = fetch(base + "/no-such-page/")
        assert status == 404 and b"Using the URLconf" not in body
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    output = (tmp_path / "serve.log").read_text()
    assert "manage.py collectstatic --noinput" in output
    assert output.count("Booting worker with pid") == 2
    # The imports' tasks worker runs next to gunicorn (README "Imports in the background").
    assert "manage.py db_worker" in output and "Starting worker" in output, output[-3000:]
    # Access log and Django's warnings both reach the log (stderr).
    assert re.search(r'"GET /api/teams/ HTTP/1\.1" 200', output), output[-3000:]
    assert "WARNING django.request" in output and "Not Found: /no-such-page/" in output
