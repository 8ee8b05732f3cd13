"""The `lists` helper's probe (issue 10): API lists and search against the PostgreSQL database in
DATABASE_URL, each value next to a floor measured in the same run (hand-written SQL + json.dumps).
Not the benchmark (`make bench`); a quick look while working on the lists.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> .venv/bin/python benchmarks/lists_probe.py lists search

ONLY=1 limits it to the excerpts; REPS sets the repetitions (median); OUT the JSON file written.
"""
import json, os, secrets, statistics, sys, time
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cmo_kb.settings")
os.environ.setdefault("DEBUG", "0"); os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50)); os.environ.setdefault("ALLOWED_HOSTS", "testserver")
import django; django.setup()
from django.conf import settings
from django.db import connection
from django.test import Client

settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anon": "10000000/minute", "user": "10000000/minute"}}
from rest_framework.settings import api_settings; api_settings.reload()
c = Client()
REPS = int(os.environ.get("REPS", 7))

def t(fn, reps=REPS):
    fn()
    xs = []
    for _ in range(reps):
        s = time.perf_counter(); fn(); xs.append((time.perf_counter() - s) * 1000)
    return statistics.median(xs)

def get(url):
    r = c.get(url); assert r.status_code == 200, (url, r.status_code, r.content[:300]); return r

def sql(q, p=()):
    with connection.cursor() as cur:
        cur.execute(q, p); cols = [d[0] for d in cur.description]; return [dict(zip(cols, row)) for row in cur.fetchall()]

def excerpt_floor(n, after=None):
    where = "WHERE (e.source_id, e.start, e.id) > (%s, %s, %s)" if after else ""
    rows = sql(f"""SELECT e.id, e.slug, s.slug source, e.text, e.start, e."end", e.section, t.slug team, r.slug speaker_role,
      e.attribution, e.kind, w.slug wave, e.created_at, e.updated_at, cu.username created_by, uu.username updated_by
      FROM evidence_evidenceexcerpt e JOIN evidence_source s ON s.id=e.source_id LEFT JOIN projects_team t ON t.id=e.team_id
      LEFT JOIN evidence_speakerrole r ON r.id=e.speaker_role_id LEFT JOIN evidence_evaluationwave w ON w.id=e.wave_id
      LEFT JOIN auth_user cu ON cu.id=e.created_by_id LEFT JOIN auth_user uu ON uu.id=e.updated_by_id {where}
      ORDER BY e.source_id, e.start, e.id LIMIT %s""", (list(after) if after else []) + [n])
    links = sql("""SELECT l.id, l.excerpt_id, c.slug configuration, c.title configuration_title, l.stance, l.part, l.note
      FROM evidence_evidencelink l JOIN mechanisms_cmoconfiguration c ON c.id=l.configuration_id
      WHERE c.status='published' AND l.excerpt_id = ANY(%s) ORDER BY c.slug, l.part""", ([r["id"] for r in rows],))
    by = {}
    for l in links: by.setdefault(l.pop("excerpt_id"), []).append(l)
    for r in rows: r["links"] = by.get(r["id"], [])
    return json.dumps({"next": None, "previous": None, "results": rows}, default=str)

def generic_floor(table, n, cols="*", order="id", join=""):
    rows = sql(f"SELECT {cols} FROM {table} {join} ORDER BY {order} LIMIT %s", [n])
    return json.dumps({"results": rows}, default=str)

out = []
def row(name, value, floor):
    out.append({"name": name, "value_ms": round(value, 1), "floor_ms": round(floor, 1), "ratio": round(value / floor, 2) if floor else None})
    print(f"{name:55s} {value:9.1f} ms  floor {floor:8.1f} ms  ratio {value/floor if floor else float('nan'):6.2f}", flush=True)

which = sys.argv[1:] or ["lists", "search"]
if "lists" in which:
    for n in (50, 500):
        first = get(f"/api/excerpts/?page_size={n}").json()
        row(f"excerpts first page ({n})", t(lambda: get(f"/api/excerpts/?page_size={n}")), t(lambda: excerpt_floor(n)))
        # a deep page: walk to the middle by a cursor built from a row in the middle of the table
        mid = sql("SELECT source_id, start, id FROM evidence_evidenceexcerpt ORDER BY source_id DESC, start DESC, id DESC LIMIT 1 OFFSET 500000")[0]
        import base64
        tok = base64.b64encode(json.dumps([False, [mid["source_id"], mid["start"], mid["id"]]], separators=(",", ":")).encode(), altchars=b"-_").decode()
        deep = t(lambda: get(f"/api/excerpts/?page_size={n}&cursor={tok}"))
        row(f"excerpts deep page ({n}) vs first", deep, out[-1]["value_ms"])
        row(f"excerpts deep page ({n}) vs floor", deep, t(lambda: excerpt_floor(n, (mid["source_id"], mid["start"], mid["id"]))))
    for n in (() if os.environ.get("ONLY") else (50, 500)):
        get(f"/api/configurations/?page_size={n}")
        row(f"configurations ({n})", t(lambda: get(f"/api/configurations/?page_size={n}")), float("nan"))
    for url, table in [] if os.environ.get("ONLY") else [("/api/sources/", "evidence_source"), ("/api/evidence-links/", "evidence_evidencelink"), ("/api/teams/", "projects_team")]:
        for n in (50, 500):
            get(f"{url}?page_size={n}")
            row(f"{url} ({n})", t(lambda: get(f"{url}?page_size={n}")), t(lambda: generic_floor(table, n)))
if "search" in which:
    terms = ["change", "relationship", "team", "experience", "role barrier", '"relationship change"', "team -change",
             "barrier OR enabler", "service", "dialysis", "zzyzxq", "power OR agency", '"play a role"', "ctg -barrier"]
    for url in ("/api/excerpts/?search=",) if os.environ.get("ONLY") else ("/api/excerpts/?search=", "/api/configurations/?search="):
        times = {}
        for term in terms:
            times[term] = t(lambda: get(url + term), reps=3)
        xs = sorted(times.values())
        p95 = xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))]
        med = statistics.median(xs)
        print(url, {k: round(v, 1) for k, v in times.items()})
        row(f"search {url} p95 (of {len(terms)})", p95, float("nan"))
        row(f"search {url} worst vs median", xs[-1], med)
json.dump(out, open(os.environ.get("OUT", "/tmp/lists_probe.json"), "w"), indent=1)
