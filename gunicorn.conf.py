"""gunicorn settings for `make serve` (README "Running in production").

HOST             address to bind, default 127.0.0.1:8000 (put a TLS proxy in front)
WEB_CONCURRENCY  worker processes, default 3 (about 2 per core plus one)
GUNICORN_TIMEOUT seconds a request may take before its worker is restarted, default 30
"""

import os

bind = os.environ.get("HOST") or "127.0.0.1:8000"
workers = int(os.environ.get("WEB_CONCURRENCY") or 3)
timeout = int(os.environ.get("GUNICORN_TIMEOUT") or 30)
graceful_timeout = 20
# Access and error logs to stderr, next to Django's own (LOGGING in cmo_kb/settings.py).
accesslog = "-"
errorlog = "-"
loglevel = (os.environ.get("LOG_LEVEL") or "info").lower()
# Load the app once in the master: a broken setting stops `make serve` at once, not in each worker.
preload_app = True
# Trust X-Forwarded-* only from a proxy on this machine (gunicorn's default, stated here on purpose).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS") or "127.0.0.1"
# gunicorn 25+ opens a control socket in ~/.gunicorn by default, shared by every instance of the
# same user; `make serve` does not use it.
control_socket_disable = True
# The request line (method, path and query) may be up to gunicorn's finite maximum: a filter with a
# few dozen slugs passes 4,094 characters (the default, answered with an undocumented HTML 414),
# while the app itself bounds what a query may hold (cmo_kb/middleware.py: a 400 naming it).
limit_request_line = 8190
