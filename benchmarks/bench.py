#!/usr/bin/env python
"""Issue 10's table at any size: each figure of the project against a floor measured in the same run.

    make bench BENCH_ARGS="--excerpts 1000000 --configurations 100000 --json /tmp/bench.json"
    python benchmarks/bench.py --database cmo_kb_gen_1m --reuse --json out.json     # an existing DB
    python benchmarks/bench.py --database mine --template cmo_kb_scale_1m           # clone, migrate, run

The database: --reuse takes --database as it is (after `migrate`, so a branch's migrations apply);
--template clones it from another database first; otherwise benchmarks/generate.py builds it with
--excerpts and --configurations (and --reuse keeps it for the next run).

The project is measured through a real server: gunicorn, one sync worker, DEBUG off, against that
database, so the worker's RSS can be sampled from /proc (every 20 ms; rss_mb is the peak growth over
the idle worker). A request that passes --timeout seconds, or a worker that passes --max-rss-mb, is
killed and its row reads "timeout >N s" or "killed >N MB" (holds: false); the master starts a fresh
worker. An endpoint that answers 404 (not built yet on this branch) is a "missing" row, holds false.

Floors are hand-written SQL run by this process over psycopg2 (keyset on the index the goal names,
then json.dumps / csv / XML writing), in the same run, plus one bare HTTP round trip to the same
worker (a static file served by WhiteNoise, before any view runs). A tiny list's ratio is then mostly
the app's fixed cost per request (middleware, authentication, throttles: the "GET /api/ root" row).

Rows: every API list at the default (50) and maximum (500) page size (goal <= 3x floor), a deep
cursor page (goal <= 1.5x the first); search p95 over a term mix and the worst term / median term
(goal p95 <= 100 ms, worst <= 3x median) for the API lists and /search/; public pages (goal <= 300
ms and <= 1 MB of HTML, absolute); /api/matrix/ on each pair of axes (<= 1.5x a GROUP BY); the full
CSV exports and /api/export/qdpx/ (<= 2x floor, RSS growth < 200 MB); the validated import path
(load_ctg) in rows/s against COPY of the same rows (>= 0.3x).

Exit status 1 when a goal is missed. benchmarks/bench_api.py stays for the small-scale checks it
makes on a throw-away test database (cursor depth, page size, GIN against a sequential scan).
"""

import argparse
import http.client
import io
import itertools
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from urllib.parse import quote, urlsplit
from xml.sax.saxutils import escape as xml_escape

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
import generate  # noqa: E402

VENV_BIN = Path(sys.executable).parent


# --- Rows ------------------------------------------------------------------------------------------

ROWS = []


def row(name, size, value_ms, floor_ms, goal, holds, note="", ratio=None, **extra):
    if ratio is None:
        ratio = round(value_ms / floor_ms, 2) if value_ms is not None and floor_ms else None
    entry = {"name": name, "size": size, "value_ms": _round(value_ms), "floor_ms": _round(floor_ms),
             "ratio": ratio, "goal": goal, "holds": bool(holds), **{k: v for k, v in extra.items() if v is not None}}
    if note:
        entry["note"] = note
    ROWS.append(entry)
    print(format_row(entry), flush=True)
    return entry


def _round(value):
    return None if value is None else round(value, 1)


def format_row(r):
    value = r.get("note") if r["value_ms"] is None else f"{r['value_ms']:,.1f}"
    floor = "" if r["floor_ms"] is None else f"{r['floor_ms']:,.1f}"
    ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}x"
    extra = "".join(f" {k}={r[k]}" for k in ("rss_mb", "bytes", "rows_per_s") if k in r)
    if r.get("note") and r["value_ms"] is not None:
        extra += f" ({r['note']})"
    return f"{r['name'][:58]:58} {r['size'][:20]:20} {value:>14} {floor:>10} {ratio:>9}  {r['goal']:22} {'yes' if r['holds'] else 'NO ':3}{extra}"


def ratio_goal(name, size, measured, floor_ms, limit, goal, **extra):
    """A row whose goal is value <= limit x floor; measured is a Measured or a failure string."""
    if isinstance(measured, str):
        return row(name, size, None, floor_ms, goal, False, note=measured)
    holds = floor_ms is not None and measured.ms <= limit * floor_ms
    return row(name, size, measured.ms, floor_ms, goal, holds, rss_mb=measured.rss_mb, **extra)


# --- The server ------------------------------------------------------------------------------------


def read_rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


TRANSPORT_PATH = "/static/css/print.css"


class Server:
    """gunicorn with one sync worker; requests are timed to the last byte, the worker's RSS sampled."""

    admin, database, own_pids = None, None, []

    def __init__(self, database_url, port, timeout, max_rss_mb, static_root):
        self.port, self.timeout, self.max_rss_mb = port, timeout, max_rss_mb
        self.env = dict(
            os.environ, DATABASE_URL=database_url, DEBUG="0", SECRET_KEY="bench-" + "k" * 60,
            ALLOWED_HOSTS="127.0.0.1,localhost", STATIC_ROOT=str(static_root),
            # The benchmark makes many requests a minute: lift the throttles (their cache cost stays).
            API_THROTTLE_ANON="100000000/minute", API_THROTTLE_USER="100000000/minute",
            SESSION_COOKIE_SECURE="0", CSRF_COOKIE_SECURE="0", LOG_LEVEL="WARNING",
        )

    def start(self):
        subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
                       env=self.env, cwd=ROOT, check=True)
        self.process = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "cmo_kb.wsgi", "--bind", f"127.0.0.1:{self.port}", "--workers", "1",
             "--timeout", str(self.timeout + 60), "--graceful-timeout", "5", "--access-logfile", "/dev/null",
             "--error-logfile", "-", "--log-level", "warning"],
            env=self.env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=sys.stderr,
        )
        self.wait_ready()
        # What any request costs before the app runs: a static file (WhiteNoise) from the same worker.
        # Added to every floor, which is otherwise measured in this process without HTTP.
        samples = [self.get(TRANSPORT_PATH)[0] for _ in range(21)]
        self.transport_ms = statistics.median(samples[1:])
        print(f"HTTP round trip (GET {TRANSPORT_PATH}): {self.transport_ms:.1f} ms, added to each floor", flush=True)

    def worker_pid(self):
        try:
            with open(f"/proc/{self.process.pid}/task/{self.process.pid}/children") as f:
                children = f.read().split()
        except FileNotFoundError:
            return None
        return int(children[0]) if children else None

    def wait_ready(self, seconds=120):
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                status, _, _ = self._get("/api/", timeout=10)
                if status < 500 and self.worker_pid():
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise SystemExit("bench: the server did not start")

    def kill_worker(self):
        """Kill the worker (the master starts another) and the queries it left running."""
        pid = self.worker_pid()
        if pid:
            os.kill(pid, signal.SIGKILL)
            for _ in range(100):
                if self.worker_pid() not in (None, pid):
                    break
                time.sleep(0.1)
        if self.admin is not None:
            self.admin.cursor().execute(
                """SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND state = 'active'
                   AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND pid <> ALL(%s)""",
                (self.database, self.own_pids))
        self.wait_ready()

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def _get(self, path, timeout):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path, headers={"Accept-Encoding": "identity"})
            response = conn.getresponse()
            size, head = 0, b""
            while True:
                chunk = response.read(1 << 20)
                if not chunk:
                    break
                if len(head) < 4096:
                    head += chunk[:4096]
                size += len(chunk)
            return response.status, size, head
        finally:
            conn.close()

    def get(self, path, timeout=None):
        """(ms, status, bytes, head, peak RSS growth MB) or raises Failure (timeout, killed)."""
        timeout = timeout or self.timeout
        pid = self.worker_pid()
        idle = read_rss_mb(pid) or 0
        peak = [idle]
        stop = threading.Event()
        killed = []

        def sample():
            while not stop.wait(0.02):
                rss = read_rss_mb(pid)
                if rss is None:
                    return
                peak[0] = max(peak[0], rss)
                if rss > self.max_rss_mb:
                    killed.append(rss)
                    os.kill(pid, signal.SIGKILL)
                    return

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        try:
            status, size, head = self._get(path, timeout=timeout)
        except (socket.timeout, TimeoutError):
            stop.set()
            sampler.join()
            self.kill_worker()
            raise Failure(f"timeout >{timeout} s (RSS +{peak[0] - idle:,.0f} MB by then)")
        except (ConnectionError, http.client.HTTPException, OSError):
            stop.set()
            if killed:
                self.wait_ready()
                raise Failure(f"killed >{self.max_rss_mb:.0f} MB")
            raise
        finally:
            stop.set()
            sampler.join()
        ms = (time.perf_counter() - started) * 1000
        if killed:
            self.wait_ready()
            raise Failure(f"killed >{self.max_rss_mb:.0f} MB")
        return ms, status, size, head, round(peak[0] - idle, 1)


class Failure(Exception):
    pass


class Measured:
    def __init__(self, samples, rss_mb=None, size=None, p95=False):
        self.samples = samples
        self.ms = percentile(samples, 95) if p95 else statistics.median(samples)
        self.rss_mb, self.bytes = rss_mb, size


def percentile(values, p):
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    low, high = int(k), min(int(k) + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (k - low)


def measure_http(server, path, repeat, budget_s=60, warm=True, expect=200, timeout=None):
    """Median of `repeat` timed GETs (after one warm-up), fewer when they pass budget_s; a string
    (missing, timeout, killed, HTTP nnn) when the endpoint does not answer."""
    samples, rss, size = [], 0.0, None
    spent = time.perf_counter()
    try:
        for i in range(repeat + (1 if warm else 0)):
            ms, status, size, head, grown = server.get(path, timeout)
            if status == 404:
                return "missing (404)"
            if status != expect:
                return f"HTTP {status}: {head[:120]!r}"
            rss = max(rss, grown)
            if i or not warm:
                samples.append(ms)
            if warm and i == 0 and ms > budget_s * 1000 / 2:
                samples.append(ms)  # one slow request is the figure: no time for more
                break
            if samples and time.perf_counter() - spent > budget_s:
                break
    except Failure as failure:
        return str(failure)
    return Measured(samples, rss_mb=rss, size=size)


def median_ms(fn, repeat):
    fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


# --- Floors: hand-written SQL + serialisation ------------------------------------------------------


def dumps(rows):
    return json.dumps(rows, default=str)


def fetch(cur, sql, params=None):
    cur.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


EXCERPT_SQL = """
SELECT e.id, e.slug, s.slug AS source, e.text, e.start, e."end", e.section, t.slug AS team, r.slug AS speaker_role,
       e.attribution, e.kind, w.slug AS wave, e.created_at, e.updated_at
FROM evidence_evidenceexcerpt e JOIN evidence_source s ON s.id = e.source_id
LEFT JOIN projects_team t ON t.id = e.team_id LEFT JOIN evidence_speakerrole r ON r.id = e.speaker_role_id
LEFT JOIN evidence_evaluationwave w ON w.id = e.wave_id
WHERE (e.source_id, e.start) > (%s, %s) ORDER BY e.source_id, e.start LIMIT %s
"""


def excerpt_floor(cur, size, after=(0, -1)):
    rows = fetch(cur, EXCERPT_SQL, (*after, size))
    links = fetch(cur, """SELECT l.excerpt_id, l.id, c.slug AS configuration, c.title AS configuration_title, l.stance,
                                 l.part, l.note FROM evidence_evidencelink l JOIN mechanisms_cmoconfiguration c
                                 ON c.id = l.configuration_id WHERE l.excerpt_id = ANY(%s) AND c.status = 'published'""",
                  ([r["id"] for r in rows],))
    by_excerpt = {}
    for link in links:
        by_excerpt.setdefault(link.pop("excerpt_id"), []).append(link)
    for r in rows:
        r["links"] = by_excerpt.get(r["id"], [])
    return dumps({"next": "x", "previous": None, "results": rows})


def configuration_floor(cur, size, after=""):
    rows = fetch(cur, """SELECT c.id, c.slug, c.title, c.status, c.activity, c.resource, c.reasoning, c.effect, c.influence, c.statement,
                                c.confidence, c.created_at, c.updated_at, m.slug AS mechanism_slug, m.name AS mechanism_name,
                                th.slug AS theme_slug, th.name AS theme_name, rl.slug AS relationship_level
                         FROM mechanisms_cmoconfiguration c
                         LEFT JOIN mechanisms_enablingmechanism m ON m.id = c.mechanism_id
                         LEFT JOIN mechanisms_mechanismtheme th ON th.id = c.theme_id
                         LEFT JOIN projects_relationshiplevel rl ON rl.id = c.relationship_level_id
                         WHERE c.status = 'published' AND c.slug > %s ORDER BY c.slug LIMIT %s""", (after, size))
    ids = [r["id"] for r in rows]
    related = {
        "teams": """SELECT x.cmoconfiguration_id AS cid, t.slug, t.short_name AS name FROM mechanisms_cmoconfiguration_teams x
                    JOIN projects_team t ON t.id = x.team_id WHERE x.cmoconfiguration_id = ANY(%s)""",
        "contexts": """SELECT x.cmoconfiguration_id AS cid, t.slug, t.name, t.category FROM mechanisms_cmoconfiguration_contexts x
                       JOIN mechanisms_context t ON t.id = x.context_id WHERE x.cmoconfiguration_id = ANY(%s)""",
        "outcomes": """SELECT x.cmoconfiguration_id AS cid, t.slug, t.name FROM mechanisms_cmoconfiguration_outcomes x
                       JOIN mechanisms_outcome t ON t.id = x.outcome_id WHERE x.cmoconfiguration_id = ANY(%s)""",
        "quality_domains": """SELECT x.cmoconfiguration_id AS cid, t.slug FROM mechanisms_cmoconfiguration_quality_domains x
                              JOIN projects_qualitydomain t ON t.id = x.qualitydomain_id WHERE x.cmoconfiguration_id = ANY(%s)""",
        "pathways": """SELECT x.configuration_id AS cid, p.slug FROM mechanisms_configurationpathway x
                       JOIN mechanisms_pathway p ON p.id = x.pathway_id WHERE x.configuration_id = ANY(%s) ORDER BY x."order" """,
        "wish_shifts": """SELECT w.configuration_id AS cid, d.slug AS dimension, p.slug AS toward, p.position AS toward_position,
                          b.slug AS between, w.note FROM mechanisms_wishshift w JOIN mechanisms_wishdimension d ON d.id = w.dimension_id
                          JOIN mechanisms_wishpole p ON p.id = w.toward_id JOIN mechanisms_relationshippair b ON b.id = w.between_id
                          WHERE w.configuration_id = ANY(%s)""",
        "evidence": """SELECT l.configuration_id AS cid, l.id, e.slug AS excerpt, e.text, e.attribution, e.kind, t.slug AS team,
                       r.slug AS speaker_role, s.slug AS source, e.section, e.start, e."end", l.stance, l.part, l.note
                       FROM evidence_evidencelink l JOIN evidence_evidenceexcerpt e ON e.id = l.excerpt_id
                       JOIN evidence_source s ON s.id = e.source_id LEFT JOIN projects_team t ON t.id = e.team_id
                       LEFT JOIN evidence_speakerrole r ON r.id = e.speaker_role_id WHERE l.configuration_id = ANY(%s)""",
    }
    by = {}
    for key, sql in related.items():
        for r in fetch(cur, sql, (ids,)):
            by.setdefault((key, r.pop("cid")), []).append(r)
    for r in rows:
        for key in related:
            r[key] = by.get((key, r["id"]), [])
        r["has_evidence"] = bool(r["evidence"])
    return dumps({"next": "x", "previous": None, "results": rows})


def source_floor(cur, size, offset=0):
    # The page first, then length() of its 50 texts only (each one decompressed).
    rows = fetch(cur, """SELECT s.slug, s.title, k.slug AS kind, p.slug AS programme, s.authors, s.date, s.publisher, s.url,
                                (SELECT length(full_text) FROM evidence_source WHERE id = s.id) AS length,
                                s.created_at, s.updated_at
                         FROM (SELECT * FROM (SELECT id, slug, title, kind_id, programme_id, authors, date, publisher, url,
                                                     created_at, updated_at FROM evidence_source
                                              ORDER BY title, id LIMIT %s OFFSET %s) page) s
                         JOIN evidence_sourcekind k ON k.id = s.kind_id LEFT JOIN projects_programme p ON p.id = s.programme_id
                         ORDER BY s.title, s.id""", (size, offset))
    cur.execute("SELECT count(*) FROM evidence_source")
    return dumps({"count": cur.fetchone()[0], "results": rows})


def link_floor(cur, size, after=0):
    rows = fetch(cur, """SELECT l.id, e.slug AS excerpt, c.slug AS configuration, l.stance, l.part, l.note,
                                l.created_at, l.updated_at FROM evidence_evidencelink l
                         JOIN mechanisms_cmoconfiguration c ON c.id = l.configuration_id
                         JOIN evidence_evidenceexcerpt e ON e.id = l.excerpt_id
                         WHERE c.status = 'published' AND l.id > %s ORDER BY l.id LIMIT %s""", (after, size))
    return dumps({"next": "x", "previous": None, "results": rows})


def vocabulary_floor(table, order):
    def floor(cur, size):
        rows = fetch(cur, f"SELECT * FROM {table} ORDER BY {order} LIMIT %s", (size,))
        cur.execute(f"SELECT count(*) FROM {table}")
        return dumps({"count": cur.fetchone()[0], "results": rows})

    return floor


# --- Django, in this process, for what only the app knows (deep cursors, resources) ----------------


def setup_django(database_url):
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cmo_kb.settings")
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", "bench-" + "k" * 60)
    os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
    import django

    django.setup()


def list_resources():
    """(prefix, viewset, db_table or None) of every router list."""
    from cmo_kb.api_urls import router

    resources = []
    for prefix, viewset, _ in router.registry:
        if "(?P<" in prefix:
            # A nested resource (a programme's members) is read by that programme's members only and
            # holds a handful of rows: not one of the lists that grow with the knowledge base.
            continue
        model = make_view(prefix, viewset).get_queryset().model
        resources.append((prefix, viewset, model))
    return resources


def make_view(prefix, viewset):
    """The list view as an anonymous GET would set it up, to ask it for its queryset and paginator."""
    from rest_framework.test import APIRequestFactory

    view = viewset()
    view.action_map = {"get": "list"}
    view.action, view.format_kwarg, view.kwargs, view.args = "list", None, {}, ()
    view.request = view.initialize_request(APIRequestFactory().get(f"/api/{prefix}/"))
    view.headers = {}
    return view


def deep_cursor_path(prefix, viewset, fraction=0.9):
    """The URL of the page that starts `fraction` of the way down the list, built with the
    paginator's own encode_cursor from the position of the row there."""
    from rest_framework.pagination import Cursor

    path = f"/api/{prefix}/"
    view = make_view(prefix, viewset)
    queryset = view.filter_queryset(view.get_queryset())
    paginator = view.paginator
    ordering = paginator.get_ordering(view.request, queryset, view)
    queryset = queryset.order_by(*ordering)
    count = queryset.count()
    instance = queryset.prefetch_related(None)[int(count * fraction)]
    paginator.base_url = "http://testserver" + path
    paginator.cursor_query_param = getattr(paginator, "cursor_query_param", "cursor")
    if hasattr(paginator, "_link"):  # the project's keyset cursor (cmo_kb/pagination.py): the rows after this one
        paginator.ordering = ordering
        url = paginator._link(instance, False)
    else:
        position = paginator._get_position_from_instance(instance, ordering)
        url = paginator.encode_cursor(Cursor(offset=0, reverse=False, position=position))
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}", instance


# --- Sections --------------------------------------------------------------------------------------


def bench_lists(server, cur, args, sizes):
    def get(row, name):  # a model instance, or a values() row (the lean list paths)
        return row[name] if isinstance(row, dict) else getattr(row, name)

    cursor_floors = {
        "excerpts": (excerpt_floor, lambda i: (get(i, "source_id"), get(i, "start"))),
        "configurations": (configuration_floor, lambda i: get(i, "slug")),
        "evidence-links": (link_floor, lambda i: get(i, "id")),
        "sources": (source_floor, None),
    }
    measured = measure_http(server, "/api/", args.repeat)
    row("GET /api/ root (the app's fixed cost per request)", "-", getattr(measured, "ms", None), server.transport_ms,
        "reported", True, note=measured if isinstance(measured, str) else "")
    for prefix, viewset, model in list_resources():
        view = make_view(prefix, viewset)
        if not all(permission.has_permission(view.request, view) for permission in view.get_permissions()):
            # A list of one's own rows (the imports a user ran): nothing an anonymous client reads.
            row(f"GET /api/{prefix}/", "-", None, None, "signed-in only", True, note="not measured: anonymous gets 401")
            continue
        if prefix in cursor_floors:
            floor_fn = cursor_floors[prefix][0]
        elif model is not None:
            # Ordering by a foreign key is by its column (a concept mapping's "programme": programme_id).
            order = ", ".join(f'"{model._meta.get_field(f).column}"' for f in model._meta.ordering
                              if "__" not in f and not f.startswith("-")) or "id"
            floor_fn = vocabulary_floor(model._meta.db_table, order + ", id")
        else:
            continue
        total = model.objects.count() if model is not None else None
        first = {}
        for page_size in (50, 500):
            path = f"/api/{prefix}/?page_size={page_size}"
            m = measure_http(server, path, args.repeat)
            floor = median_ms(lambda: floor_fn(cur, page_size), args.repeat) + server.transport_ms
            first[page_size] = m
            ratio_goal(f"GET /api/{prefix}/ page_size={page_size}", f"{page_size} of {total:,}", m, floor, 3, "<= 3x floor")
        if prefix in cursor_floors and cursor_floors[prefix][1]:
            try:
                deep, instance = deep_cursor_path(prefix, viewset)
            except Exception as exc:  # the branch's paginator may not be DRF's cursor
                row(f"GET /api/{prefix}/ deep cursor (90%)", f"50 of {total:,}", None, None, "<= 1.5x first page", False,
                    note=f"cannot build a deep cursor: {exc!r}"[:160])
                continue
            m = measure_http(server, deep, args.repeat)
            base = first[50]
            ratio_goal(f"GET /api/{prefix}/ deep cursor (90%)", f"50 of {total:,}", m,
                       None if isinstance(base, str) else base.ms, 1.5, "<= 1.5x first page")
            after = cursor_floors[prefix][1](instance)
            deep_floor = median_ms(lambda: cursor_floors[prefix][0](cur, 50, after), args.repeat) + server.transport_ms
            ratio_goal(f"GET /api/{prefix}/ deep cursor vs its floor", f"50 of {total:,}", m, deep_floor, 3, "<= 3x floor")


def search_terms(cur):
    """The term mix: the corpus's most frequent words, a mid and a rare word, phrases, negation,
    OR, a zero-hit word and a long query. Frequencies come from the CtG report's own excerpts (the
    copies repeat them), so the mix is the same whatever the size."""
    cur.execute("""SELECT word FROM ts_stat($$SELECT e.search_vector FROM evidence_evidenceexcerpt e
                   JOIN evidence_source s ON s.id = e.source_id WHERE s.slug = 'ctg-evaluation-2014'$$)
                   WHERE length(word) > 3 ORDER BY ndoc DESC, word""")
    words = [r[0] for r in cur.fetchall()]
    if len(words) < 10:
        words = ["patient", "staff", "team", "relationship", "care", "support", "change", "work", "time", "health"]
    return [
        words[0], words[1], words[2],  # the most frequent words
        words[len(words) // 4],  # a mid-frequency word
        words[-1],  # a rare one
        '"peer support"', '"shared care"',  # phrases
        f"{words[0]} -{words[1]}",  # negation
        "camhs OR haemodialysis",  # OR
        "zqxjvwpk",  # zero hits
        " ".join(words[3:15]),  # a long query
    ]


def bench_search(server, cur, args):
    terms = search_terms(cur)
    size = f"{len(terms)} terms"
    for name, template in (("excerpt search (API)", "/api/excerpts/?search={}"),
                           ("configuration search (API)", "/api/configurations/?search={}"),
                           ("search page /search/", "/programmes/ctg/search/?q={}")):
        per_term, samples, failure, rss = {}, [], None, 0.0
        for term in terms:
            m = measure_http(server, template.format(quote(term)), args.search_repeat, budget_s=30, timeout=args.page_timeout)
            if isinstance(m, str):
                failure = f"{term!r}: {m}"
                break
            per_term[term] = m.ms
            samples += m.samples
            rss = max(rss, m.rss_mb or 0)
        if failure:
            row(f"{name} p95", size, None, None, "p95 <= 100 ms", False, note=failure)
            continue
        p95 = percentile(samples, 95)
        row(f"{name} p95", size, p95, None, "p95 <= 100 ms", p95 <= 100, rss_mb=rss)
        median_term = statistics.median(per_term.values())
        worst = max(per_term, key=per_term.get)
        row(f"{name} worst term / median term", size, per_term[worst], median_term, "<= 3x median", per_term[worst] <= 3 * median_term,
            note=f"worst {worst!r}")


def bench_pages(server, cur, args):
    cur.execute("""SELECT t.slug FROM projects_team t JOIN mechanisms_cmoconfiguration_teams x ON x.team_id = t.id
                   JOIN mechanisms_cmoconfiguration c ON c.id = x.cmoconfiguration_id AND c.status = 'published'
                   GROUP BY t.slug ORDER BY count(*) DESC""")
    teams = [r[0] for r in cur.fetchall()]
    cur.execute("""SELECT m.slug FROM mechanisms_enablingmechanism m JOIN mechanisms_cmoconfiguration c ON c.mechanism_id = m.id
                   GROUP BY m.slug ORDER BY count(*) DESC LIMIT 1""")
    mechanism = cur.fetchone()[0]
    cur.execute("SELECT slug FROM mechanisms_wishdimension ORDER BY \"order\" LIMIT 1")
    wish = cur.fetchone()[0]
    cur.execute("SELECT slug FROM projects_qualitydomain ORDER BY \"order\" LIMIT 1")
    quality = cur.fetchone()[0]
    cur.execute("""SELECT c.slug FROM mechanisms_cmoconfiguration c JOIN evidence_evidencelink l ON l.configuration_id = c.id
                   WHERE c.status = 'published' GROUP BY c.slug ORDER BY count(*) DESC, c.slug LIMIT 1""")
    configuration = cur.fetchone()[0]
    cur.execute("SELECT max(id) FROM evidence_evidenceexcerpt")
    excerpt = cur.fetchone()[0]
    # A programme's pages live under /programmes/<slug>/ (the old addresses are 301s to ctg's).
    ctg = "/programmes/ctg"
    pages = ["/", f"{ctg}/", f"{ctg}/teams/", *(f"{ctg}/teams/{t}/" for t in dict.fromkeys(["camhs", teams[0], teams[-1]])),
             f"{ctg}/mechanisms/", f"{ctg}/mechanisms/{mechanism}/", "/wish/", f"/wish/{wish}/", "/quality-domains/",
             f"/quality-domains/{quality}/", f"{ctg}/matrix/", f"{ctg}/configurations/",
             f"{ctg}/configurations/{configuration}/", f"/excerpts/{excerpt}/", f"{ctg}/search/?q=team"]
    for page in pages:
        m = measure_http(server, page, args.repeat, timeout=args.page_timeout)
        if isinstance(m, str):
            row(f"page {page}", "-", None, None, "<= 300 ms, <= 1 MB", False, note=m)
            continue
        kb = m.bytes / 1024
        row(f"page {page}", f"{kb:,.0f} kB HTML", m.ms, None, "<= 300 ms, <= 1 MB",
            m.ms <= 300 and m.bytes <= 1 << 20, rss_mb=m.rss_mb, bytes=m.bytes)


AXIS_SQL = {
    "team": """SELECT x.cmoconfiguration_id AS cid, t.slug AS key FROM mechanisms_cmoconfiguration_teams x
               JOIN projects_team t ON t.id = x.team_id""",
    "mechanism": """SELECT c.id AS cid, m.slug AS key FROM mechanisms_cmoconfiguration c
                    JOIN mechanisms_enablingmechanism m ON m.id = c.mechanism_id""",
    "theme": """SELECT c.id AS cid, m.slug AS key FROM mechanisms_cmoconfiguration c
                JOIN mechanisms_mechanismtheme m ON m.id = c.theme_id""",
    "wish_dimension": """SELECT DISTINCT w.configuration_id AS cid, d.slug AS key FROM mechanisms_wishshift w
                         JOIN mechanisms_wishdimension d ON d.id = w.dimension_id""",
    "quality_domain": """SELECT x.cmoconfiguration_id AS cid, q.slug AS key FROM mechanisms_cmoconfiguration_quality_domains x
                         JOIN projects_qualitydomain q ON q.id = x.qualitydomain_id""",
    "pathway": """SELECT x.configuration_id AS cid, p.slug AS key FROM mechanisms_configurationpathway x
                  JOIN mechanisms_pathway p ON p.id = x.pathway_id""",
    "effect": "SELECT c.id AS cid, c.effect AS key FROM mechanisms_cmoconfiguration c",
}


def matrix_floor(cur, rows_axis, cols_axis):
    cells = fetch(cur, f"""
        SELECT r.key AS row, k.key AS col, count(*) AS count,
               count(*) FILTER (WHERE c.effect = 'triggered') AS triggered,
               count(*) FILTER (WHERE c.effect = 'disabled') AS disabled
        FROM mechanisms_cmoconfiguration c JOIN ({AXIS_SQL[rows_axis]}) r ON r.cid = c.id
        JOIN ({AXIS_SQL[cols_axis]}) k ON k.cid = c.id
        WHERE c.status = 'published' GROUP BY 1, 2""")
    cur.execute("SELECT count(*) FROM mechanisms_cmoconfiguration WHERE status = 'published'")
    return dumps({"cells": cells, "total": cur.fetchone()[0]})


def bench_matrix(server, cur, args):
    cur.execute("SELECT count(*) FROM mechanisms_cmoconfiguration WHERE status = 'published'")
    size = f"{cur.fetchone()[0]:,} published"
    for rows_axis, cols_axis in itertools.combinations(AXIS_SQL, 2):
        m = measure_http(server, f"/api/matrix/?rows={rows_axis}&cols={cols_axis}", args.matrix_repeat, budget_s=20,
                         timeout=args.page_timeout)
        floor = median_ms(lambda: matrix_floor(cur, rows_axis, cols_axis), args.matrix_repeat) + server.transport_ms
        ratio_goal(f"GET /api/matrix/ {rows_axis} x {cols_axis}", size, m, floor, 1.5, "<= 1.5x GROUP BY")


class CountingSink(io.RawIOBase):
    def __init__(self):
        self.size = 0

    def writable(self):
        return True

    def write(self, data):
        self.size += len(data)
        return len(data)


EXCERPT_CSV_SQL = EXCERPT_SQL.replace("WHERE (e.source_id, e.start) > (%s, %s) ORDER BY e.source_id, e.start LIMIT %s",
                                      "ORDER BY e.source_id, e.start")
CONFIGURATION_CSV_SQL = """
SELECT c.id, c.slug, c.title, c.status,
  (SELECT string_agg(t.slug, ',') FROM mechanisms_cmoconfiguration_teams x JOIN projects_team t ON t.id = x.team_id
   WHERE x.cmoconfiguration_id = c.id) AS teams,
  (SELECT string_agg(t.slug, ',') FROM mechanisms_cmoconfiguration_contexts x JOIN mechanisms_context t ON t.id = x.context_id
   WHERE x.cmoconfiguration_id = c.id) AS contexts,
  c.activity, c.resource, c.reasoning, m.slug AS mechanism, th.slug AS theme, c.effect, c.influence,
  (SELECT string_agg(t.slug, ',') FROM mechanisms_cmoconfiguration_outcomes x JOIN mechanisms_outcome t ON t.id = x.outcome_id
   WHERE x.cmoconfiguration_id = c.id) AS outcomes,
  c.statement, c.confidence,
  (SELECT count(*) FROM evidence_evidencelink l WHERE l.configuration_id = c.id) AS evidence_count,
  c.created_at, c.updated_at
FROM mechanisms_cmoconfiguration c LEFT JOIN mechanisms_enablingmechanism m ON m.id = c.mechanism_id
LEFT JOIN mechanisms_mechanismtheme th ON th.id = c.theme_id WHERE c.status = 'published' ORDER BY c.slug
"""


def copy_floor(cur, sql):
    sink = CountingSink()
    started = time.perf_counter()
    cur.copy_expert(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER)", sink)
    return (time.perf_counter() - started) * 1000, sink.size


def qdpx_floor(conn):
    """The export's queries, streamed with server-side cursors, written as REFI-QDA XML and source
    files into a zip that is counted, not kept."""
    started = time.perf_counter()
    sink = CountingSink()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        texts = conn.cursor(name="qdpx_texts")
        texts.itersize = 20
        texts.execute("SELECT slug, full_text FROM evidence_source ORDER BY id")
        for slug, full_text in texts:
            archive.writestr(f"sources/{slug}.txt", full_text)
        texts.close()
        with archive.open("project.qde", "w", force_zip64=True) as qde:
            out = io.TextIOWrapper(qde, encoding="utf-8")
            out.write('<?xml version="1.0" encoding="utf-8"?>\n<Project xmlns="urn:QDA-XML:project:1.0" name="CMO KB">\n<CodeBook><Codes>\n')
            cur = conn.cursor()
            for slug, title, statement in fetch_rows(cur, "SELECT slug, title, statement FROM mechanisms_cmoconfiguration WHERE status = 'published' ORDER BY slug"):
                out.write(f'<Code guid="{slug}" name="{xml_escape(title)}" isCodable="true"><Description>{xml_escape(statement)}</Description></Code>\n')
            out.write("</Codes></CodeBook>\n<Sources>\n")
            links = {}
            for excerpt_id, slug in fetch_rows(cur, """SELECT l.excerpt_id, c.slug FROM evidence_evidencelink l JOIN mechanisms_cmoconfiguration c
                                                       ON c.id = l.configuration_id WHERE c.status = 'published'"""):
                links.setdefault(excerpt_id, []).append(slug)
            excerpts = conn.cursor(name="qdpx_excerpts")
            excerpts.itersize = 5000
            excerpts.execute('SELECT id, source_id, slug, start, "end", text FROM evidence_evidenceexcerpt ORDER BY source_id, start, "end"')
            pending = next(excerpts, None)
            for source_id, slug, title in fetch_rows(cur, "SELECT id, slug, title FROM evidence_source ORDER BY id"):
                out.write(f'<TextSource guid="{slug}" name="{xml_escape(title)}" plainTextPath="internal://{slug}.txt">\n')
                while pending is not None and pending[1] == source_id:
                    eid, _, eslug, start, end, text = pending
                    out.write(f'<PlainTextSelection guid="{eslug}" startPosition="{start}" endPosition="{end}" name="{xml_escape(text[:60])}">')
                    for code in links.get(eid, ()):
                        out.write(f'<Coding guid="{eslug}-{code}"><CodeRef targetGUID="{code}"/></Coding>')
                    out.write("</PlainTextSelection>\n")
                    pending = next(excerpts, None)
                out.write("</TextSource>\n")
            out.write("</Sources>\n</Project>\n")
            out.flush()
            out.detach()
            excerpts.close()
    conn.rollback()
    return (time.perf_counter() - started) * 1000, sink.size


def fetch_rows(cur, sql):
    cur.execute(sql)
    return cur.fetchall()


def bench_exports(server, conn, args):
    cur = conn.cursor()
    cur.execute("SELECT count(*) FROM evidence_evidenceexcerpt")
    excerpts = cur.fetchone()[0]
    cur.execute("SELECT count(*) FROM mechanisms_cmoconfiguration WHERE status = 'published'")
    configurations = cur.fetchone()[0]
    for name, path, sql, size in (
        ("GET /api/excerpts/export/ (full CSV)", "/api/excerpts/export/", EXCERPT_CSV_SQL, f"{excerpts:,} rows"),
        ("GET /api/configurations/export/ (full CSV)", "/api/configurations/export/", CONFIGURATION_CSV_SQL, f"{configurations:,} rows"),
    ):
        floor, floor_bytes = copy_floor(cur, sql)
        m = measure_http(server, path, args.export_repeat, budget_s=args.timeout, warm=False)
        export_row(name, size, m, floor)
    floor, _ = qdpx_floor(conn)
    m = measure_http(server, "/api/export/qdpx/", 1, budget_s=args.timeout, warm=False)
    export_row("GET /api/export/qdpx/", f"{excerpts:,} excerpts", m, floor)


def export_row(name, size, m, floor):
    goal = "<= 2x floor, RSS +< 200 MB"
    if isinstance(m, str):
        return row(name, size, None, floor, goal, False, note=m)
    holds = m.ms <= 2 * floor and (m.rss_mb or 0) < 200
    return row(name, size, m.ms, floor, goal, holds, rss_mb=m.rss_mb, bytes=m.bytes)


# --- Import: load_ctg's validated writing against COPY of the same rows ---------------------------

LOAD_SCRIPT = """
import time
from django.core.management import call_command
started = time.perf_counter()
call_command("load_ctg", verbosity=0)
print("LOAD_SECONDS", time.perf_counter() - started)
"""


def table_counts(cur):
    cur.execute("""SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1""")
    counts = {}
    for (table,) in cur.fetchall():
        cur.execute(f'SELECT count(*) FROM "{table}"')
        counts[table] = cur.fetchone()[0]
    return counts


def bench_import(args, admin):
    empty, loaded, copied = (f"{args.database}_imp_{x}" for x in ("empty", "loaded", "copied"))
    acur = admin.cursor()
    for name in (empty, loaded, copied):
        acur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    acur.execute(f'CREATE DATABASE "{empty}"')
    env = dict(os.environ, DATABASE_URL=url(args, empty), DEBUG="1")
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], env=env, cwd=ROOT, check=True)
    acur.execute(f'CREATE DATABASE "{loaded}" TEMPLATE "{empty}"')
    acur.execute(f'CREATE DATABASE "{copied}" TEMPLATE "{empty}"')
    env["DATABASE_URL"] = url(args, loaded)
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", LOAD_SCRIPT], env=env, cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    load_seconds = float(re.search(r"LOAD_SECONDS ([0-9.]+)", out).group(1))
    with connect(args, empty) as e, connect(args, loaded) as l, connect(args, copied) as c:
        before, after = table_counts(e.cursor()), table_counts(l.cursor())
        grown = [t for t in after if after[t] > before.get(t, 0) and "_historical" not in t]
        rows = sum(after[t] - before.get(t, 0) for t in grown)
        lcur, ccur = l.cursor(), c.cursor()
        buffers = {}
        for table in grown:
            cur = e.cursor()
            cur.execute(f'SELECT coalesce(max(id), 0) FROM "{table}"')
            top = cur.fetchone()[0]
            buffers[table] = io.BytesIO()
            lcur.copy_expert(f'COPY (SELECT * FROM "{table}" WHERE id > {top}) TO STDOUT', buffers[table])
        started = time.perf_counter()
        for table, buffer in buffers.items():
            buffer.seek(0)
            ccur.copy_expert(f'COPY "{table}" FROM STDIN', buffer)
        c.commit()
        copy_seconds = time.perf_counter() - started
    for name in (empty, loaded, copied):
        acur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    load_rate, copy_rate = rows / load_seconds, rows / copy_seconds
    # A rate: higher is better, so here the ratio is the loader's rows/s over COPY's (goal >= 0.3);
    # value_ms and floor_ms are the times to write the same rows.
    row("validated import (load_ctg) rows/s vs COPY", f"{rows:,} rows", load_seconds * 1000, copy_seconds * 1000,
        ">= 0.3x COPY rows/s", load_rate >= 0.3 * copy_rate, ratio=round(load_rate / copy_rate, 3),
        rows_per_s=round(load_rate), floor_rows_per_s=round(copy_rate), note=f"COPY {copy_rate:,.0f} rows/s")


# --- Main ------------------------------------------------------------------------------------------


def markdown_table(rows):
    """The rows as a Markdown table (benchmarks/RESULTS.md)."""
    lines = ["| name | size | value ms | floor ms | ratio | goal | holds | RSS growth MB | note |",
             "|---|---|---:|---:|---:|---|---|---:|---|"]
    for r in rows:
        value = "" if r.get("value_ms") is None else f"{r['value_ms']:,.1f}"
        floor = "" if r.get("floor_ms") is None else f"{r['floor_ms']:,.1f}"
        ratio = "" if r.get("ratio") is None else f"{r['ratio']:g}×"
        note = r.get("note", "")
        if "bytes" in r:
            note = (note + "; " if note else "") + f"{r['bytes'] / 1024:,.0f} kB"
        if "rows_per_s" in r:
            note = (note + "; " if note else "") + f"{r['rows_per_s']:,} rows/s"
        cells = [r["name"], r["size"], value, floor, ratio, r["goal"].replace("<=", "≤").replace(">=", "≥"),
                 "yes" if r["holds"] else "**no**", "" if r.get("rss_mb") is None else f"{r['rss_mb']:g}", note]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"



def url(args, database):
    return f"postgres://{args.user}@{args.host}:{args.port}/{database}"


def connect(args, database):
    return psycopg2.connect(host=args.host, port=args.port, user=args.user, dbname=database)


def prepare_database(args, admin):
    acur = admin.cursor()
    acur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (args.database,))
    exists = acur.fetchone() is not None
    if args.template:
        for attempt in range(10):  # cloning needs nobody connected to the template
            try:
                if exists:
                    acur.execute(f'DROP DATABASE "{args.database}" WITH (FORCE)')
                    exists = False
                acur.execute(f'CREATE DATABASE "{args.database}" TEMPLATE "{args.template}"')
                break
            except psycopg2.errors.ObjectInUse:
                time.sleep(3)
        else:
            raise SystemExit(f"bench: {args.template} stays in use; cannot clone it")
    elif not (exists and args.reuse):
        code = generate.main(["--database", args.database, "--excerpts", str(args.excerpts), "--configurations",
                              str(args.configurations), "--host", args.host, "--port", str(args.port), "--user", args.user,
                              "--force"])
        if code:
            raise SystemExit("bench: the generated database fails its check")
    env = dict(os.environ, DATABASE_URL=url(args, args.database), DEBUG="1")
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], env=env, cwd=ROOT, check=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--excerpts", type=int, default=20_000)
    parser.add_argument("--configurations", type=int)
    parser.add_argument("--database", help="default: cmo_kb_bench_<excerpts>")
    parser.add_argument("--reuse", action="store_true", help="use --database as it is when it exists")
    parser.add_argument("--template", help="clone --database from this database first")
    parser.add_argument("--json", help="write the rows to this file")
    parser.add_argument("--markdown", help="write the rows as a Markdown table to this file")
    parser.add_argument("--render", metavar="JSON", help="only turn a --json file into --markdown (or print it)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--search-repeat", type=int, default=3)
    parser.add_argument("--matrix-repeat", type=int, default=2)
    parser.add_argument("--export-repeat", type=int, default=1)
    parser.add_argument("--timeout", type=int, default=300, help="seconds an export request may take")
    parser.add_argument("--page-timeout", type=int, default=60, help="seconds any other request may take")
    parser.add_argument("--max-rss-mb", type=float, default=8000)
    parser.add_argument("--only", default="lists,search,pages,matrix,exports,import")
    parser.add_argument("--port", default="5432")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--user", default="postgres")
    parser.add_argument("--http-port", type=int, default=18765)
    args = parser.parse_args(argv)
    if args.render:
        table = markdown_table(json.loads(Path(args.render).read_text()))
        Path(args.markdown).write_text(table) if args.markdown else print(table)
        return 0
    args.configurations = args.configurations or max(63, args.excerpts // generate.EXCERPTS_PER_CONFIGURATION)
    args.database = args.database or f"cmo_kb_bench_{args.excerpts}"
    sections = set(args.only.split(","))

    admin = psycopg2.connect(host=args.host, port=args.port, user=args.user, dbname="postgres")
    admin.autocommit = True
    prepare_database(args, admin)
    setup_django(url(args, args.database))
    conn = connect(args, args.database)
    conn.autocommit = True
    cur = conn.cursor()
    print(f"database {args.database}: {generate.counts(cur)}", flush=True)
    print(f"{'name':58} {'size':20} {'value ms':>14} {'floor ms':>10} {'ratio':>9}  {'goal':22} ok", flush=True)
    started = time.perf_counter()
    server = Server(url(args, args.database), args.http_port, args.timeout, args.max_rss_mb,
                    Path(tempfile.gettempdir()) / f"{args.database}_static")
    server.admin, server.database = admin, args.database
    cur.execute("SELECT pg_backend_pid()")
    server.own_pids = [cur.fetchone()[0]]
    server.start()
    try:
        if "lists" in sections:
            bench_lists(server, cur, args, (50, 500))
        if "search" in sections:
            bench_search(server, cur, args)
        if "pages" in sections:
            bench_pages(server, cur, args)
        if "matrix" in sections:
            bench_matrix(server, cur, args)
        if "exports" in sections:
            conn.autocommit = False
            bench_exports(server, conn, args)
            conn.autocommit = True
    finally:
        server.stop()
    if "import" in sections:
        bench_import(args, admin)
    missed = [r for r in ROWS if not r["holds"]]
    print(f"\n{len(ROWS) - len(missed)} of {len(ROWS)} goals hold; {time.perf_counter() - started:.0f} s", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(ROWS, indent=1) + "\n")
    if args.markdown:
        Path(args.markdown).write_text(markdown_table(ROWS))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
