#!/usr/bin/env python
"""Speed goals of the API, measured as ratios against a baseline taken in the same run.

Timed tests flake on shared machines; ratios measured side by side do not (much). This script builds
a throw-away test database (PostgreSQL when DATABASE_URL points at one, else SQLite), loads the CtG
knowledge base, multiplies it --scale times (copies of the report as further sources, with their
excerpts, configurations and evidence links), and then measures:

1. cursor pagination: the deepest page of /api/configurations/ and /api/excerpts/ against the first
   page (goal: a deep page costs at most 1.5× the first, and the same number of queries);
2. page size: queries for page_size=10 and page_size=200 (goal: equal);
3. full-text search (PostgreSQL only): ?search= on /api/excerpts/ with the GIN index against the same
   request with index scans disabled, i.e. a sequential scan baseline (goal, for a selective query:
   the index is more than 1.5× faster; a broad query is reported without a goal);
4. the matrix at the full scale against the matrix on the unscaled corpus (reported, no goal: it
   reads every visible configuration once, so it grows with the data but in a fixed number of queries).

Usage:  python benchmarks/bench_api.py [--scale 20] [--repeat 15]
Exit status 1 when a goal is missed.
"""

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cmo_kb.settings")
# The benchmark makes many requests a minute: lift the throttles for it alone.
os.environ.setdefault("API_THROTTLE_ANON", "1000000/minute")
os.environ.setdefault("API_THROTTLE_USER", "1000000/minute")
os.environ.setdefault("DEBUG", "1")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402


def median_ms(fn, repeat):
    fn()  # warm caches
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def count_queries(fn):
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def get_ok(client, url):
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code, response.content[:300])
    return response


def scale_corpus(times):
    """Copy the report `times` times as further sources, with every excerpt, configuration and link."""
    from evidence.models import EvidenceExcerpt, EvidenceLink, Source
    from mechanisms.models import CMOConfiguration, WishShift

    report = Source.objects.get(slug="ctg-evaluation-2014")
    excerpts = list(EvidenceExcerpt.objects.filter(source=report))
    configurations = list(CMOConfiguration.objects.prefetch_related("teams", "contexts", "outcomes"))
    links = list(EvidenceLink.objects.all())
    shifts = list(WishShift.objects.all())
    Teams = CMOConfiguration.teams.through
    Contexts = CMOConfiguration.contexts.through
    Outcomes = CMOConfiguration.outcomes.through
    for n in range(1, times):
        with transaction.atomic():
            source = Source.objects.create(
                slug=f"copy-{n}", kind=report.kind, programme=report.programme, title=f"{report.title} (copy {n})",
                full_text=report.full_text,
            )
            # bulk_create skips save()'s verbatim check: the copies share the report's text and offsets.
            new_excerpts = EvidenceExcerpt.objects.bulk_create([
                EvidenceExcerpt(
                    slug=f"{e.slug}-c{n}", source=source, text=e.text, start=e.start, end=e.end, section=e.section,
                    team_id=e.team_id, speaker_role_id=e.speaker_role_id, attribution=e.attribution, kind=e.kind,
                )
                for e in excerpts
            ])
            excerpt_map = {old.pk: new.pk for old, new in zip(excerpts, new_excerpts)}
            new_configs = CMOConfiguration.objects.bulk_create([
                CMOConfiguration(
                    programme_id=c.programme_id, slug=f"{c.slug}-c{n}", title=c.title, activity=c.activity,
                    mechanism_id=c.mechanism_id,
                    theme_id=c.theme_id, effect=c.effect, influence=c.influence, statement=c.statement,
                    confidence=c.confidence, status=c.status, relationship_level_id=c.relationship_level_id,
                    search_text=c.search_text,
                )
                for c in configurations
            ])
            config_map = {old.pk: new.pk for old, new in zip(configurations, new_configs)}
            Teams.objects.bulk_create([Teams(cmoconfiguration_id=config_map[c.pk], team_id=t.pk) for c in configurations for t in c.teams.all()])
            Contexts.objects.bulk_create([Contexts(cmoconfiguration_id=config_map[c.pk], context_id=x.pk) for c in configurations for x in c.contexts.all()])
            Outcomes.objects.bulk_create([Outcomes(cmoconfiguration_id=config_map[c.pk], outcome_id=o.pk) for c in configurations for o in c.outcomes.all()])
            EvidenceLink.objects.bulk_create([
                EvidenceLink(excerpt_id=excerpt_map.get(link.excerpt_id, link.excerpt_id), configuration_id=config_map[link.configuration_id],
                             stance=link.stance, part=link.part)
                for link in links
            ])
            WishShift.objects.bulk_create([
                WishShift(configuration_id=config_map[s.configuration_id], dimension_id=s.dimension_id, toward_id=s.toward_id,
                          between_id=s.between_id)
                for s in shifts
            ])


def deepest_page_url(client, first_url, page_size):
    """The last full page (the very last may hold fewer rows, which would flatter it)."""
    url, deepest = first_url, first_url
    while url:
        data = get_ok(client, url).json()
        if len(data["results"]) == page_size:
            deepest = url
        url = data.get("next")
    return deepest


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=50, help="how many copies of the corpus (default 50)")
    parser.add_argument("--repeat", type=int, default=15, help="timed repetitions per measurement (median taken)")
    args = parser.parse_args()
    if args.scale < 2:
        parser.error("--scale must be at least 2")

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    results, missed = [], []

    def record(name, value, goal=None, ok=None):
        results.append((name, value, goal or "", "" if ok is None else ("met" if ok else "MISSED")))
        if ok is False:
            missed.append(name)

    try:
        call_command("load_ctg", stdout=io.StringIO())
        client = Client()
        matrix_url = "/api/matrix/?rows=team&cols=mechanism"
        matrix_small = median_ms(lambda: get_ok(client, matrix_url), args.repeat)

        started = time.perf_counter()
        scale_corpus(args.scale)
        from evidence.models import EvidenceExcerpt
        from evidence.search import search_excerpts
        from mechanisms.models import CMOConfiguration

        record("vendor", connection.vendor)
        record("configurations / excerpts", f"{CMOConfiguration.objects.count()} / {EvidenceExcerpt.objects.count()}")
        record("scaling took (s)", f"{time.perf_counter() - started:.1f}")

        for name, first in (("configurations", "/api/configurations/?page_size=20&view=full"),
                            ("excerpts", "/api/excerpts/?page_size=20")):
            deep = deepest_page_url(client, first, 20)
            t_first = median_ms(lambda: get_ok(client, first), args.repeat)
            t_deep = median_ms(lambda: get_ok(client, deep), args.repeat)
            q_first, q_deep = count_queries(lambda: get_ok(client, first)), count_queries(lambda: get_ok(client, deep))
            ratio = t_deep / t_first
            record(f"{name}: first page (ms)", f"{t_first:.1f}")
            record(f"{name}: deepest page (ms)", f"{t_deep:.1f}")
            record(f"{name}: deep / first", f"{ratio:.2f}", "<= 1.5", ratio <= 1.5)
            record(f"{name}: queries first / deep", f"{q_first} / {q_deep}", "equal", q_first == q_deep)
            small = count_queries(lambda: get_ok(client, first.replace("page_size=20", "page_size=10")))
            large = count_queries(lambda: get_ok(client, first.replace("page_size=20", "page_size=200")))
            record(f"{name}: queries page_size 10 / 200", f"{small} / {large}", "equal", small == large)

        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            # A selective query (a few rows per copy) is where the index pays; a broad one is reported too:
            # ranking and headlines for thousands of matches cost the same whichever way rows are found.
            for label, query, goal in (("selective", '"lash out"', True), ("broad", "shared care -nurses", False)):
                url = "/api/excerpts/?page_size=20&search=" + query.replace(" ", "%20").replace('"', "%22")

                def run_query(q=query):
                    # The search itself (first page, best first), without the HTTP and JSON around it.
                    return list(search_excerpts(EvidenceExcerpt.objects.defer("search_vector"), q)[:20])

                t_request = median_ms(lambda: get_ok(client, url), args.repeat)
                t_index = median_ms(run_query, args.repeat)
                with connection.cursor() as cursor:
                    cursor.execute("SET enable_bitmapscan = off; SET enable_indexscan = off")
                t_seq = median_ms(run_query, args.repeat)
                with connection.cursor() as cursor:
                    cursor.execute("RESET enable_bitmapscan; RESET enable_indexscan")
                hits = len(list(search_excerpts(EvidenceExcerpt.objects.only("pk"), query)))
                record(f"search {label} ({hits} hits): API request (ms)", f"{t_request:.1f}")
                record(f"search {label}: query with GIN index (ms)", f"{t_index:.1f}")
                record(f"search {label}: query, seq scan baseline (ms)", f"{t_seq:.1f}")
                ratio = t_seq / t_index
                if goal:
                    record(f"search {label}: seq scan / index", f"{ratio:.2f}", "> 1.5", ratio > 1.5)
                else:
                    record(f"search {label}: seq scan / index", f"{ratio:.2f}")
        else:
            record("search", "skipped: full-text search with a GIN index is PostgreSQL only")

        matrix_large = median_ms(lambda: get_ok(client, matrix_url), args.repeat)
        q_matrix = count_queries(lambda: get_ok(client, matrix_url))
        record("matrix, 1x corpus (ms)", f"{matrix_small:.1f}")
        record(f"matrix, {args.scale}x corpus (ms)", f"{matrix_large:.1f}")
        record(f"matrix: {args.scale}x / 1x", f"{matrix_large / matrix_small:.2f}")
        record("matrix: queries", q_matrix, "<= 5", q_matrix <= 5)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)

    width = max(len(r[0]) for r in results)
    for name, value, goal, verdict in results:
        print(f"{name:<{width}}  {value!s:>14}  {goal:>7}  {verdict}")
    if missed:
        print(f"\n{len(missed)} goal(s) missed: {', '.join(missed)}")
        return 1
    print("\nall goals met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
