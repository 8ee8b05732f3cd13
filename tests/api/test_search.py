"""evidence/search.py on both databases, and the PostgreSQL index and ranking."""

import pytest
from django.db import connection

from evidence.models import EvidenceExcerpt, Source
from evidence.search import highlight, parse_query, search_configurations, search_excerpts
from mechanisms.models import CMOConfiguration

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="full-text search, GIN index and ranking exist only on PostgreSQL"
)


def slugs(results):
    return [r.slug for r in results]


def test_excerpt_search_finds_and_highlights(kb):
    hits = list(search_excerpts(EvidenceExcerpt.objects.all(), "control"))
    assert slugs(hits) == ["q-control"]
    assert "<mark>control</mark>" in hits[0].snippet
    assert hits[0].rank > 0


def test_excerpt_search_needs_every_term(kb):
    assert slugs(search_excerpts(EvidenceExcerpt.objects.all(), "worried jobs")) == ["q-jobs"]
    assert slugs(search_excerpts(EvidenceExcerpt.objects.all(), "worried control")) == []


def test_websearch_phrase_or_and_exclusion(kb):
    everything = EvidenceExcerpt.objects.all()
    assert slugs(search_excerpts(everything, '"control of my own dialysis"')) == ["q-control"]
    assert slugs(search_excerpts(everything, '"dialysis control"')) == []
    assert sorted(slugs(search_excerpts(everything, "control OR jobs"))) == ["q-control", "q-jobs"]
    assert slugs(search_excerpts(everything, "haemodialysis -jobs")) == ["q-control"]


def test_attribution_is_searched(kb):
    assert sorted(slugs(search_excerpts(EvidenceExcerpt.objects.all(), "haemodialysis"))) == ["q-control", "q-jobs"]


def test_snippet_is_html_safe(kb):
    hits = list(search_excerpts(EvidenceExcerpt.objects.all(), "target"))
    assert slugs(hits) == ["f-target"]
    assert "A&amp;E" in hits[0].snippet and "A&E" not in hits[0].snippet
    assert "<mark>target</mark>" in hits[0].snippet


def test_blank_query_matches_nothing(kb):
    assert list(search_excerpts(EvidenceExcerpt.objects.all(), "   ")) == []
    assert list(search_configurations(CMOConfiguration.objects.all(), "")) == []


def test_configurations_found_by_context_and_outcome_names(kb):
    visible = CMOConfiguration.objects.published()
    assert sorted(slugs(search_configurations(visible, "resigned"))) == ["shc-control", "shc-fear"]
    assert slugs(search_configurations(visible, "refuse")) == ["shc-fear"]
    # the draft is found only in a queryset that includes it
    assert slugs(search_configurations(visible, "four-hour")) == []
    assert slugs(search_configurations(CMOConfiguration.objects.all(), "waiting")) == ["pathway-targets"]


def test_search_text_follows_renames_and_unlinks(kb):
    kb.refusal.name = "Patients decline shared care"
    kb.refusal.save()
    visible = CMOConfiguration.objects.published()
    assert slugs(search_configurations(visible, "decline")) == ["shc-fear"]
    kb.shc_fear.outcomes.clear()
    assert slugs(search_configurations(visible, "decline")) == []
    kb.refusal.configurations.add(kb.shc_control)
    assert slugs(search_configurations(visible, "decline")) == ["shc-control"]


def test_configuration_snippet(kb):
    hit = search_configurations(CMOConfiguration.objects.all(), "resigned").first()
    assert "<mark>" in hit.snippet and "esigned" in hit.snippet


def test_parse_query():
    assert parse_query('dialysis "in control" OR power -nurses') == ([["dialysis"], ["in control", "power"]], ["nurses"])
    assert parse_query("OR -") == ([["-"]], [])


def test_highlight_escapes_and_marks():
    assert highlight("A&E <b> target", ["target"]) == "A&amp;E &lt;b&gt; <mark>target</mark>"


def test_ranking_puts_the_better_match_first(kb):
    # q-control says "control" once in its text; a new excerpt says it in its text twice and in its
    # attribution, and another only in its section heading (weight C): best first.
    # (a source of its own: the small report's text is fixed once excerpts point into it)
    text = kb.source.full_text + "Control, control: we took control.\n"
    source = Source.objects.create(slug="control-report", kind=kb.report, programme=kb.programme,
                                   title="Control report", full_text=text)
    start = text.index("Introduction.")
    s = len(kb.source.full_text)
    EvidenceExcerpt.objects.create(slug="q-more-control", source=source, text="Control, control: we took control.",
                                   start=s, end=s + 34, attribution="(control group)")
    EvidenceExcerpt.objects.create(slug="intro", source=source, text="Introduction.", start=start, end=start + 13,
                                   section="Control")
    assert slugs(search_excerpts(EvidenceExcerpt.objects.all(), "control")) == ["q-more-control", "q-control", "intro"]


def test_configuration_title_outranks_context(kb):
    kb.shc_fear.title = "Resigned patients fear for nurses' jobs"
    kb.shc_fear.save()
    assert slugs(search_configurations(CMOConfiguration.objects.published(), "resigned")) == ["shc-fear", "shc-control"]


@postgres_only
@pytest.mark.parametrize("table,search", [
    ("evidence_evidenceexcerpt", search_excerpts),
    ("mechanisms_cmoconfiguration", search_configurations),
])
def test_explain_uses_the_gin_index(kb, table, search):
    model = EvidenceExcerpt if table.startswith("evidence") else CMOConfiguration
    qs = search(model.objects.all(), "dialysis")
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        # A handful of rows is cheaper to scan than to look up, so the planner would rightly pick a
        # sequential scan here; switching that off shows the index can serve the @@ query.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert f"{table}_search_gin" in plan, plan
    assert "Bitmap Index Scan" in plan, plan
