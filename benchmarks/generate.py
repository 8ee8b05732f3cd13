#!/usr/bin/env python
"""Build a PostgreSQL CMO KB of any size whose every row passes the model's own rules.

    python benchmarks/generate.py --excerpts 1000000 --configurations 100000 --database cmo_kb_scale_1m
    python benchmarks/generate.py --database cmo_kb_scale_1m --check      # verify an existing database

Steps: create the database (dropped first with --force), `manage.py migrate` (so the search triggers
and every constraint are in place), `manage.py load_ctg` (the real CtG corpus), then multiply the
corpus with COPY:

* sources: the report's full text, split at every excerpt boundary; each piece gets one of 32 word
  substitution sets (patients -> service users, ...), and each source a header line of its own, so
  the texts differ while every excerpt is still cut at real offsets: an excerpt's text is the new
  full text sliced between its new offsets, by construction;
* excerpts: the report's 243 excerpts again in each copy (same section, team, speaker, wave, kind),
  slugs `<slug>-g<copy>`; the last source holds the remainder, so the count is exact;
* configurations: copies of the 63 configurations with their contexts, outcomes, quality domains,
  teams, pathways and Wish shifts, theme under the same mechanism; each copy's evidence links point
  at the same excerpts in one full source copy, so ~4.5 links a configuration as in the corpus;
  a third of the copies also get the CAMHS team (so one team holds a large share, as a busy team
  would) and the copies are 75% published, 20% draft, 5% in review (published ones keep what
  publishing needs: a mechanism, a context, an outcome and evidence);
* search_vector is left to the database triggers (they fire on COPY); search_text is the same as
  the original's (same contexts and outcomes), and the check recomputes it in SQL.

Plain indexes (not constraints) of the big tables are dropped before COPY and recreated from their
saved definitions after, which is much faster than maintaining a GIN index row by row. At the end:
VACUUM ANALYZE, then the check (also `--check` alone): SQL over every row for each invariant, the
verbatim rule compared in Python per source (see check_verbatim). Exit status 1 when one fails.
"""

import argparse
import json
import os
import random
import re
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
REPORT_SLUG = "ctg-evaluation-2014"
# Same proportions as the table: 449,755 links for 100,063 configurations and 1,000,243 excerpts.
DEFAULT_EXCERPTS = 20_000
EXCERPTS_PER_CONFIGURATION = 10
BIG_TEAM = "camhs"

# Word substitutions a source copy may apply (bit i of the variant number turns on pair i).
SUBSTITUTIONS = [
    ("patients", "service users"),
    ("staff", "practitioners"),
    ("clinicians", "professionals"),
    ("relationships", "partnerships"),
    ("hospital", "trust"),
]
VARIANTS = 2 ** len(SUBSTITUTIONS)
STATUS_MIX = [("published", 75), ("draft", 20), ("in_review", 5)]

BIG_TABLES = [
    "evidence_source",
    "evidence_evidenceexcerpt",
    "mechanisms_cmoconfiguration",
    "mechanisms_cmoconfiguration_contexts",
    "mechanisms_cmoconfiguration_outcomes",
    "mechanisms_cmoconfiguration_quality_domains",
    "mechanisms_cmoconfiguration_teams",
    "mechanisms_configurationpathway",
    "mechanisms_wishshift",
    "evidence_evidencelink",
]


def log(message, t0=[time.perf_counter()]):
    print(f"[{time.perf_counter() - t0[0]:7.1f}s] {message}", flush=True)


# --- COPY text format ------------------------------------------------------------------------------

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_value(value):
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        value = json.dumps(value)
    return str(value).translate(_ESCAPES)


class ChunkReader:
    """A file-like view of an iterator of str chunks, for copy_expert without holding it all.

    psycopg2 sends whatever read() returns (any length; empty means the end), so each call hands over
    the next ~1 MB chunk as it is."""

    def __init__(self, chunks):
        self._chunks = iter(chunks)

    def read(self, size=-1):
        return next(self._chunks, "").encode()


def batched_lines(lines, size=1 << 20):
    batch, length = [], 0
    for line in lines:
        batch.append(line)
        length += len(line)
        if length >= size:
            yield "".join(batch)
            batch, length = [], 0
    if batch:
        yield "".join(batch)


def copy_rows(cur, table, columns, lines):
    started = time.perf_counter()
    column_list = ", ".join(f'"{c}"' for c in columns)
    cur.copy_expert(f"COPY {table} ({column_list}) FROM STDIN", ChunkReader(batched_lines(lines)), size=1 << 20)
    log(f"COPY {table}: {cur.rowcount:,} rows in {time.perf_counter() - started:.1f}s")


def fetch_dicts(cur, sql, params=None):
    cur.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def next_id(cur, table):
    cur.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}")
    return cur.fetchone()[0]


def template(row, skip):
    """The COPY columns and the escaped constant tail of a row, without the columns in skip."""
    columns = [c for c in row if c not in skip]
    return columns, "\t".join(copy_value(row[c]) for c in columns)


# --- Text variants ---------------------------------------------------------------------------------


def build_variants(full_text, excerpts):
    """Each variant: (text, {old offset: new offset}) for the report's text with a substitution set."""
    cuts = sorted({0, len(full_text)} | {e["start"] for e in excerpts} | {e["end"] for e in excerpts})
    pieces = [full_text[a:b] for a, b in zip(cuts, cuts[1:])]
    variants = []
    for number in range(VARIANTS):
        pairs = [pair for i, pair in enumerate(SUBSTITUTIONS) if number >> i & 1]
        if pairs:
            pattern = re.compile(r"\b(" + "|".join(re.escape(old) for old, _ in pairs) + r")\b")
            table = dict(pairs)
            new_pieces = [pattern.sub(lambda m: table[m.group(1)], p) for p in pieces]
        else:
            new_pieces = pieces
        offsets, position = {cuts[0]: 0}, 0
        for cut, piece in zip(cuts[1:], new_pieces):
            position += len(piece)
            offsets[cut] = position
        variants.append(("".join(new_pieces), offsets))
    return variants


# --- Populate --------------------------------------------------------------------------------------


def drop_indexes_and_keys(cur):
    """Drop the big tables' plain indexes, unique constraints and foreign keys (primary keys stay);
    return the statements that restore them, in order: indexes, unique constraints, foreign keys.

    Building an index once by sorting and validating a foreign key with one join are much faster
    than maintaining them row by row, and the restore is the database's own check of every row."""
    cur.execute(
        """
        SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.schemaname = 'public' AND i.tablename = ANY(%s)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
        """,
        (BIG_TABLES,),
    )
    indexes = cur.fetchall()
    cur.execute(
        """
        SELECT c.conname, c.conrelid::regclass::text, pg_get_constraintdef(c.oid), c.contype FROM pg_constraint c
        WHERE c.conrelid = ANY(%s::regclass[]) AND c.contype IN ('f', 'u') ORDER BY c.contype
        """,
        (BIG_TABLES,),
    )
    keys = cur.fetchall()
    for name, table, _, kind in keys:  # foreign keys ('f') sort before unique constraints ('u')
        cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        cur.execute(f'DROP INDEX "{name}"')
    restore = [(name, definition) for name, definition in indexes]
    restore += [(name, f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
                for name, table, definition, kind in keys if kind == "u"]
    restore += [(name, f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
                for name, table, definition, kind in keys if kind == "f"]
    return restore


def populate(cur, excerpts, configurations, seed=10):
    """Multiply the loaded CtG corpus up to `excerpts` excerpts and `configurations` configurations."""
    rng = random.Random(seed)
    # Rows written earlier in this transaction (load_ctg inside a test) leave deferred foreign-key
    # checks pending, and a table with pending checks cannot be altered: run them now.
    cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
    cur.execute("SET maintenance_work_mem = '512MB'")
    report = fetch_dicts(cur, "SELECT * FROM evidence_source WHERE slug = %s", (REPORT_SLUG,))[0]
    cur.execute("SELECT count(*) FROM evidence_evidenceexcerpt")
    have_excerpts = cur.fetchone()[0]
    cur.execute("SELECT count(*) FROM mechanisms_cmoconfiguration")
    have_configurations = cur.fetchone()[0]
    originals = fetch_dicts(cur, "SELECT * FROM evidence_evidenceexcerpt WHERE source_id = %s ORDER BY id", (report["id"],))
    if have_excerpts != len(originals):
        raise SystemExit("generate: expected a database holding only the CtG corpus (run on a fresh one, or --force)")
    per_source = len(originals)
    wanted_excerpts = max(0, excerpts - have_excerpts)
    wanted_configurations = max(0, configurations - have_configurations)
    sources = -(-wanted_excerpts // per_source)
    full_sources = wanted_excerpts // per_source
    log(f"{sources:,} source copies ({full_sources:,} full), {wanted_excerpts:,} excerpts, "
        f"{wanted_configurations:,} configurations to add")
    restore = drop_indexes_and_keys(cur)

    variants = build_variants(report["full_text"], originals)
    source_base = next_id(cur, "evidence_source")
    excerpt_base = next_id(cur, "evidence_evidenceexcerpt")
    variant_of = [rng.randrange(VARIANTS) for _ in range(sources)]

    def header(k):
        return f"Generated evaluation report {k} of {sources}, variant {variant_of[k - 1]}.\n\n"

    # Sources
    columns, tail = template(report, {"id", "slug", "title", "full_text"})

    escaped_variants = [copy_value(text) for text, _ in variants]

    def source_lines():
        for k in range(1, sources + 1):
            text = copy_value(header(k)) + escaped_variants[variant_of[k - 1]]
            yield (f"{source_base + k - 1}\t{report['slug']}-g{k}\t{copy_value(report['title'] + f' (copy {k})')}"
                   f"\t{text}\t{tail}\n")

    # lz4 compresses the 190 kB texts several times faster than the default pglz (PostgreSQL 14+).
    cur.execute("SET default_toast_compression = 'lz4'")

    copy_rows(cur, "evidence_source", ["id", "slug", "title", "full_text", *columns], source_lines())

    # Excerpts: escaped text per (variant, excerpt), rows formatted from a per-excerpt tail.
    columns, _ = template(originals[0], {"id", "slug", "source_id", "start", "end", "text", "search_vector"})
    tails = ["\t".join(copy_value(o[c]) for c in columns) for o in originals]
    texts = {}

    def excerpt_lines(source_numbers, vectors=None):
        for k in source_numbers:
            next_excerpt = excerpt_base + (k - 1) * per_source
            v = variant_of[k - 1]
            text, offsets = variants[v]
            shift = len(header(k))
            count = per_source if k <= full_sources else wanted_excerpts - full_sources * per_source
            for i, o in enumerate(originals[:count]):
                start, end = offsets[o["start"]], offsets[o["end"]]
                key = (v, i)
                if key not in texts:
                    texts[key] = copy_value(text[start:end])
                line = (f"{next_excerpt}\t{o['slug']}-g{k}\t{source_base + k - 1}\t{start + shift}\t{end + shift}"
                        f"\t{texts[key]}\t{tails[i]}")
                yield line + (f"\t{vectors[key]}\n" if vectors is not None else "\n")
                next_excerpt += 1

    # The search trigger costs ~0.4 ms a row (to_tsvector over text, attribution and section): 7
    # minutes at 1M. An excerpt's vector depends only on those three columns, identical for the same
    # excerpt in sources of the same variant, so the first source of each variant goes through the
    # trigger and the other copies get the vector it computed, with the trigger off for their COPY.
    # check() recomputes a sample through the trigger itself.
    prototype_of = {}
    for k in range(1, sources + 1):  # the partial source is last: a prototype only if its variant has no other
        prototype_of.setdefault(variant_of[k - 1], k)
    prototypes = set(prototype_of.values())
    order = sorted(range(1, sources + 1), key=lambda k: k not in prototypes)
    columns_out = ["id", "slug", "source_id", "start", "end", "text", *columns]
    copy_rows(cur, "evidence_evidenceexcerpt", columns_out, excerpt_lines([k for k in order if k in prototypes]))
    cur.execute(
        "SELECT source_id, search_vector::text FROM evidence_evidenceexcerpt WHERE source_id = ANY(%s) ORDER BY id",
        ([source_base + k - 1 for k in prototypes],),
    )
    vectors, position = {}, {}
    for source_id, vector in cur.fetchall():
        v = variant_of[source_id - source_base]
        i = position[v] = position.get(v, -1) + 1
        vectors[(v, i)] = copy_value(vector)
    cur.execute("ALTER TABLE evidence_evidenceexcerpt DISABLE TRIGGER evidence_evidenceexcerpt_search_vector_update")
    copy_rows(cur, "evidence_evidenceexcerpt", [*columns_out, "search_vector"],
              excerpt_lines([k for k in order if k not in prototypes], vectors))
    cur.execute("ALTER TABLE evidence_evidenceexcerpt ENABLE TRIGGER evidence_evidenceexcerpt_search_vector_update")
    excerpt_index = {o["id"]: i for i, o in enumerate(originals)}

    # Configurations and what hangs off them
    cfgs = fetch_dicts(cur, "SELECT * FROM mechanisms_cmoconfiguration ORDER BY id")
    cfg_base = next_id(cur, "mechanisms_cmoconfiguration")
    # Same shortcut as for excerpts: a copy has its original's title, statement, activity and
    # search_text, so it gets the vector the trigger computed for the original.
    columns, _ = template(cfgs[0], {"id", "slug", "status"})
    cfg_tails = ["\t".join(copy_value(c[col]) for col in columns) for c in cfgs]
    cur.execute("ALTER TABLE mechanisms_cmoconfiguration DISABLE TRIGGER mechanisms_cmoconfiguration_search_vector_update")
    statuses = [s for s, weight in STATUS_MIX for _ in range(weight)]
    copies = [(cfg_base + j, j % len(cfgs), j // len(cfgs) + 1) for j in range(wanted_configurations)]
    status_of = [rng.choice(statuses) for _ in copies]

    def cfg_lines():
        for (new_id, i, generation), status in zip(copies, status_of):
            yield f"{new_id}\t{cfgs[i]['slug']}-g{generation}\t{status}\t{cfg_tails[i]}\n"

    copy_rows(cur, "mechanisms_cmoconfiguration", ["id", "slug", "status", *columns], cfg_lines())
    cur.execute("ALTER TABLE mechanisms_cmoconfiguration ENABLE TRIGGER mechanisms_cmoconfiguration_search_vector_update")
    cfg_position = {c["id"]: i for i, c in enumerate(cfgs)}

    def by_configuration(table, key="cmoconfiguration_id"):
        rows = fetch_dicts(cur, f"SELECT * FROM {table} ORDER BY id")
        grouped = {}
        for row in rows:
            grouped.setdefault(cfg_position[row[key]], []).append(row)
        return rows, grouped

    for table in ("mechanisms_cmoconfiguration_contexts", "mechanisms_cmoconfiguration_outcomes",
                  "mechanisms_cmoconfiguration_quality_domains"):
        rows, grouped = by_configuration(table)
        if not rows:
            continue
        columns, _ = template(rows[0], {"id", "cmoconfiguration_id"})
        row_tails = {i: ["\t".join(copy_value(r[c]) for c in columns) for r in group] for i, group in grouped.items()}
        copy_rows(cur, table, ["cmoconfiguration_id", *columns],
                  (f"{new_id}\t{t}\n" for new_id, i, _ in copies for t in row_tails.get(i, ())))

    cur.execute("SELECT id FROM projects_team WHERE slug = %s", (BIG_TEAM,))
    big_team = cur.fetchone()
    rows, grouped = by_configuration("mechanisms_cmoconfiguration_teams")
    team_sets = {i: [r["team_id"] for r in group] for i, group in grouped.items()}

    def team_lines():
        for new_id, i, _ in copies:
            teams = list(team_sets.get(i, []))
            if big_team and big_team[0] not in teams and rng.random() < 1 / 3:
                teams.append(big_team[0])
            for team in teams:
                yield f"{new_id}\t{team}\n"

    copy_rows(cur, "mechanisms_cmoconfiguration_teams", ["cmoconfiguration_id", "team_id"], team_lines())

    for table in ("mechanisms_configurationpathway", "mechanisms_wishshift"):
        rows, grouped = by_configuration(table, key="configuration_id")
        if not rows:
            continue
        columns, _ = template(rows[0], {"id", "configuration_id"})
        row_tails = {i: ["\t".join(copy_value(r[c]) for c in columns) for r in group] for i, group in grouped.items()}
        copy_rows(cur, table, ["configuration_id", *columns],
                  (f"{new_id}\t{t}\n" for new_id, i, _ in copies for t in row_tails.get(i, ())))

    # Evidence links: a copy's links point at the same excerpts in one full source copy.
    rows, grouped = by_configuration("evidence_evidencelink", key="configuration_id")
    columns, _ = template(rows[0], {"id", "configuration_id", "excerpt_id"})
    link_rows = {i: [(excerpt_index.get(r["excerpt_id"]), "\t".join(copy_value(r[c]) for c in columns))
                     for r in group] for i, group in grouped.items()}
    report_excerpt_ids = {o["id"] for o in originals}
    if any(r["excerpt_id"] not in report_excerpt_ids for r in rows):
        raise SystemExit("generate: a CtG evidence link points outside the report; the generator assumes it does not")

    def link_lines():
        if not full_sources:
            return
        for new_id, i, generation in copies:
            k = (new_id * 7919) % full_sources  # spread a configuration's generations over the sources
            for position, tail in link_rows.get(i, ()):
                yield f"{new_id}\t{excerpt_base + k * per_source + position}\t{tail}\n"

    copy_rows(cur, "evidence_evidencelink", ["configuration_id", "excerpt_id", *columns], link_lines())

    for table in BIG_TABLES:
        cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    started = time.perf_counter()
    for name, statement in restore:
        cur.execute(statement)
    log(f"{len(restore)} indexes, unique constraints and foreign keys restored in {time.perf_counter() - started:.1f}s")


# --- Check -----------------------------------------------------------------------------------------

SQL_CHECKS = {
    "excerpt search_vector filled by the trigger":
        "SELECT count(*) FROM evidence_evidenceexcerpt WHERE search_vector IS NULL",
    "configuration search_vector filled by the trigger":
        "SELECT count(*) FROM mechanisms_cmoconfiguration WHERE search_vector IS NULL",
    "excerpt start before end":
        'SELECT count(*) FROM evidence_evidenceexcerpt WHERE start < 0 OR start >= "end"',
    "excerpt span once per source":
        'SELECT count(*) FROM (SELECT 1 FROM evidence_evidenceexcerpt GROUP BY source_id, start, "end" HAVING count(*) > 1) d',
    "excerpt slugs unique":
        "SELECT count(*) FROM (SELECT 1 FROM evidence_evidenceexcerpt GROUP BY slug HAVING count(*) > 1) d",
    "source slugs unique":
        "SELECT count(*) FROM (SELECT 1 FROM evidence_source GROUP BY slug HAVING count(*) > 1) d",
    "configuration slugs unique":
        "SELECT count(*) FROM (SELECT 1 FROM mechanisms_cmoconfiguration GROUP BY slug HAVING count(*) > 1) d",
    "theme belongs to the configuration's mechanism":
        """SELECT count(*) FROM mechanisms_cmoconfiguration c JOIN mechanisms_mechanismtheme t ON t.id = c.theme_id
           WHERE c.mechanism_id IS NOT NULL AND t.mechanism_id <> c.mechanism_id""",
    "Wish shift's pole belongs to its dimension":
        """SELECT count(*) FROM mechanisms_wishshift w JOIN mechanisms_wishpole p ON p.id = w.toward_id
           WHERE p.dimension_id <> w.dimension_id""",
    "evidence link once per part":
        """SELECT count(*) FROM (SELECT 1 FROM evidence_evidencelink
           GROUP BY excerpt_id, configuration_id, part HAVING count(*) > 1) d""",
    "published configuration has a mechanism":
        "SELECT count(*) FROM mechanisms_cmoconfiguration WHERE status = 'published' AND mechanism_id IS NULL",
    "published configuration has a context":
        """SELECT count(*) FROM mechanisms_cmoconfiguration c WHERE c.status = 'published' AND NOT EXISTS
           (SELECT 1 FROM mechanisms_cmoconfiguration_contexts x WHERE x.cmoconfiguration_id = c.id)""",
    "published configuration has an outcome":
        """SELECT count(*) FROM mechanisms_cmoconfiguration c WHERE c.status = 'published' AND NOT EXISTS
           (SELECT 1 FROM mechanisms_cmoconfiguration_outcomes x WHERE x.cmoconfiguration_id = c.id)""",
    "published configuration has evidence":
        """SELECT count(*) FROM mechanisms_cmoconfiguration c WHERE c.status = 'published' AND NOT EXISTS
           (SELECT 1 FROM evidence_evidencelink l WHERE l.configuration_id = c.id)""",
    "status is a review status":
        "SELECT count(*) FROM mechanisms_cmoconfiguration WHERE status NOT IN ('draft', 'in_review', 'published')",
    # refresh_search_text's rule: contexts' then outcomes' names, each in (order, name) order.
    "configuration search_text is its contexts' and outcomes' names":
        """SELECT count(*) FROM mechanisms_cmoconfiguration c WHERE c.search_text IS DISTINCT FROM coalesce((
             SELECT string_agg(name, E'\\n' ORDER BY part, ord, name) FROM (
               SELECT 1 AS part, x."order" AS ord, x.name FROM mechanisms_cmoconfiguration_contexts cx
                 JOIN mechanisms_context x ON x.id = cx.context_id WHERE cx.cmoconfiguration_id = c.id
               UNION ALL
               SELECT 2, o."order", o.name FROM mechanisms_cmoconfiguration_outcomes co
                 JOIN mechanisms_outcome o ON o.id = co.outcome_id WHERE co.cmoconfiguration_id = c.id) names), '')""",
}


def check_verbatim(cur):
    """Excerpts whose text is not their source's full_text[start:end] (or whose end is past it).

    Done per source in Python: substr() over a TOASTed 190 kB text decompresses the whole text for
    each of its excerpts (and walks it character by character in UTF-8), hours at 1M rows; here each
    source is read once and each excerpt's md5 (computed by the server) compared with its slice's."""
    import hashlib

    bad = []
    cur.execute("SELECT id FROM evidence_source ORDER BY id")
    source_ids = [r[0] for r in cur.fetchall()]
    read = cur.connection.cursor()
    for source_id in source_ids:
        read.execute("SELECT full_text FROM evidence_source WHERE id = %s", (source_id,))
        full = read.fetchone()[0]
        read.execute('SELECT id, start, "end", md5(text) FROM evidence_evidenceexcerpt WHERE source_id = %s', (source_id,))
        for excerpt_id, start, end, digest in read.fetchall():
            if end > len(full) or hashlib.md5(full[start:end].encode()).hexdigest() != digest:
                bad.append(excerpt_id)
    return bad


def check_search_vectors(cur, table, sample=2000, seed=0):
    """Rows of a random sample whose stored search_vector differs from what the table's trigger
    computes now: an UPDATE of search_vector fires it, inside a transaction rolled back after."""
    cur.execute(f"SELECT min(id), max(id) FROM {table}")
    low, high = cur.fetchone()
    if low is None:
        return []
    rng = random.Random(seed)
    ids = sorted({rng.randint(low, high) for _ in range(sample)})
    cur.execute(f"SELECT id, search_vector::text FROM {table} WHERE id = ANY(%s)", (ids,))
    stored = dict(cur.fetchall())
    in_transaction = not cur.connection.autocommit  # e.g. inside a test: a savepoint, not a rollback
    cur.execute("SAVEPOINT generate_check" if in_transaction else "BEGIN")
    try:
        cur.execute(f"UPDATE {table} SET search_vector = NULL WHERE id = ANY(%s) RETURNING id, search_vector::text", (ids,))
        fresh = dict(cur.fetchall())
    finally:
        cur.execute("ROLLBACK TO SAVEPOINT generate_check" if in_transaction else "ROLLBACK")
    return [pk for pk, vector in fresh.items() if stored.get(pk) != vector]


def check(cur):
    """Every invariant on every row; returns the failures as messages (empty when all hold)."""
    failures = []
    for table in ("evidence_evidenceexcerpt", "mechanisms_cmoconfiguration"):
        bad = check_search_vectors(cur, table)
        if bad:
            failures.append(f"{table}.search_vector is what its trigger computes: {len(bad):,} sampled rows differ (e.g. id {bad[0]})")
    for name, sql in SQL_CHECKS.items():
        cur.execute(sql)
        count = cur.fetchone()[0]
        if count:
            failures.append(f"{name}: {count:,} rows break it")
    bad = check_verbatim(cur)
    if bad:
        failures.append(f"excerpt text equals its source between offsets: {len(bad):,} rows break it (e.g. id {bad[0]})")
    return failures


def counts(cur):
    result = {}
    for table in ("evidence_source", "evidence_evidenceexcerpt", "mechanisms_cmoconfiguration", "evidence_evidencelink"):
        cur.execute(f"SELECT count(*) FROM {table}")
        result[table] = cur.fetchone()[0]
    return result


# --- CLI -------------------------------------------------------------------------------------------


def admin_connection(args):
    conn = psycopg2.connect(host=args.host, port=args.port, user=args.user, dbname="postgres")
    conn.autocommit = True
    return conn


def database_url(args):
    return f"postgres://{args.user}@{args.host}:{args.port}/{args.database}"


def manage(args, *command):
    env = dict(os.environ, DATABASE_URL=database_url(args), DEBUG="0", SECRET_KEY="generate-" + "x" * 50,
               ALLOWED_HOSTS="localhost")
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *command], env=env, check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--excerpts", type=int, default=DEFAULT_EXCERPTS)
    parser.add_argument("--configurations", type=int, help=f"default: excerpts / {EXCERPTS_PER_CONFIGURATION}")
    parser.add_argument("--database", default="cmo_kb_gen_small")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default="5432")
    parser.add_argument("--user", default="postgres")
    parser.add_argument("--force", action="store_true", help="drop the database first if it exists")
    parser.add_argument("--check", action="store_true", help="only check an existing database")
    parser.add_argument("--seed", type=int, default=10)
    args = parser.parse_args(argv)
    if args.configurations is None:
        args.configurations = max(63, args.excerpts // EXCERPTS_PER_CONFIGURATION)

    started = time.perf_counter()
    if not args.check:
        admin = admin_connection(args)
        cur = admin.cursor()
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (args.database,))
        if cur.fetchone():
            if not args.force:
                raise SystemExit(f"generate: database {args.database} exists; pass --force to drop it")
            cur.execute(f'DROP DATABASE "{args.database}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{args.database}"')
        admin.close()
        log(f"created {args.database}; migrate")
        manage(args, "migrate", "--noinput")
        log("load_ctg")
        manage(args, "load_ctg")
        conn = psycopg2.connect(host=args.host, port=args.port, user=args.user, dbname=args.database)
        with conn, conn.cursor() as cur:
            populate(cur, args.excerpts, args.configurations, seed=args.seed)
        conn.autocommit = True
        with conn.cursor() as cur:
            log("VACUUM ANALYZE")
            cur.execute("VACUUM ANALYZE")
        generated = time.perf_counter() - started
        log(f"generated in {generated:.0f}s")
    conn = psycopg2.connect(host=args.host, port=args.port, user=args.user, dbname=args.database)
    conn.autocommit = True
    with conn.cursor() as cur:
        log(f"rows: {counts(cur)}")
        log("check")
        failures = check(cur)
    conn.close()
    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    log(f"check: {'all invariants hold' if not failures else f'{len(failures)} failed'}; total {time.perf_counter() - started:.0f}s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
