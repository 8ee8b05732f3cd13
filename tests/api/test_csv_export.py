"""GET /api/<resource>/export/ (cmo_kb/csv_export.py): every matching row of a list as one streamed
CSV, equal to the list's ?format=csv pages put end to end, with the list's filters and visibility."""

import csv
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cmo_kb import csv_export
from tests.api.test_internal_notes import CONFIG_NOTE, EXCERPT_NOTE

RESOURCES = [
    "programmes", "teams", "mechanisms", "themes", "wish-dimensions", "quality-domains", "relationship-levels",
    "pathways", "contexts", "outcomes", "outcome-kinds", "relationship-pairs", "configurations", "sources",
    "excerpts", "evidence-links", "speaker-roles", "waves",
]


def body_of(response):
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return b"".join(response.streaming_content).decode("utf-8")


def parse(text):
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    return header, [dict(zip(header, line)) for line in reader]


def pages(client, url):
    """The list's ?format=csv pages, two rows each, followed through their Link headers."""
    header, rows = None, []
    sep = "&" if "?" in url else "?"
    next_url = f"{url}{sep}format=csv&page_size=2"
    while next_url:
        response = client.get(next_url)
        assert response.status_code == 200, response.content
        page_header, page_rows = parse(response.content.decode("utf-8"))
        header = header or page_header
        rows += page_rows
        match = re.search(r'<([^>]+)>; rel="next"', response.get("Link", ""))
        next_url = match.group(1) if match else None
    return header, rows


def filled(rows):
    """Rows without their empty cells: a page's CSV has a column only some of its rows fill (a null
    nested object gives `mechanism` rather than `mechanism.slug`), the export every column."""
    return [{key: value for key, value in row.items() if value != ""} for row in rows]


@pytest.fixture
def noted(kb):
    from evidence.models import EvaluationWave

    EvaluationWave.objects.create(programme=kb.programme, slug="wave-1", name="Wave 1", number=1)
    kb.shc_fear.notes = CONFIG_NOTE
    kb.shc_fear.save()
    kb.q_jobs.note = EXCERPT_NOTE
    kb.q_jobs.save()
    return kb


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("role", ["anon_client", "evaluator_client"])
def test_export_is_the_pages_end_to_end(noted, grow, request, role, resource):
    grow(3)
    client = request.getfixturevalue(role)
    response = client.get(f"/api/{resource}/export/")
    assert response["Content-Disposition"] == f'attachment; filename="{resource}.csv"'
    header, rows = parse(body_of(response))
    page_header, page_rows = pages(client, f"/api/{resource}/")
    assert rows, f"{resource}: nothing to compare"
    assert filled(rows) == filled(page_rows)
    assert header == page_header or set(page_header) - set(header) <= {"mechanism", "theme"}, (header, page_header)


@pytest.mark.parametrize("url", [
    "/api/excerpts/?team=shc",
    "/api/excerpts/?mechanism=patient-beliefs&kind=participant_quote",
    "/api/configurations/?team=shc,pathway&effect=triggered",
    "/api/evidence-links/?part=outcome",
    "/api/mechanisms/?name=patient",
    "/api/excerpts/?search=dialysis",
    "/api/configurations/?search=extra",
])
def test_filters_apply(noted, grow, evaluator_client, url):
    grow(3)
    path, query = url.split("?")
    _, rows = parse(body_of(evaluator_client.get(f"{path}export/?{query}")))
    _, page_rows = pages(evaluator_client, url)
    everything = parse(body_of(evaluator_client.get(f"{path}export/")))[1]
    assert rows and len(rows) < len(everything), "the filter must choose some rows, not all or none"
    assert filled(rows) == filled(page_rows)


def test_full_view_of_configurations(noted, evaluator_client):
    header, rows = parse(body_of(evaluator_client.get("/api/configurations/export/?view=full")))
    assert "evidence" in header and "evidence_count" not in header and "mechanism.name" in header
    assert filled(rows) == filled(pages(evaluator_client, "/api/configurations/?view=full")[1])


def test_search_rows_have_rank_and_snippet(noted, anon_client):
    header, rows = parse(body_of(anon_client.get("/api/excerpts/export/?search=control")))
    assert {"rank", "snippet"} <= set(header)
    assert [row["slug"] for row in rows] == ["q-control"]
    assert "rank" not in parse(body_of(anon_client.get("/api/excerpts/export/")))[0]


def test_drafts_are_for_evaluators_only(noted, anon_client, analyst_client, evaluator_client):
    for outsider in (anon_client, analyst_client):
        _, rows = parse(body_of(outsider.get("/api/configurations/export/")))
        assert [row["slug"] for row in rows] == ["shc-control", "shc-fear"]
        assert outsider.get("/api/configurations/export/?status=draft").status_code == 403
        # An excerpt's link to the draft is not shown either.
        body = body_of(outsider.get("/api/excerpts/export/"))
        assert "pathway-targets" not in body
    _, rows = parse(body_of(evaluator_client.get("/api/configurations/export/")))
    assert [row["slug"] for row in rows] == ["pathway-targets", "shc-control", "shc-fear"]
    assert "pathway-targets" in body_of(evaluator_client.get("/api/excerpts/export/"))


def test_internal_notes_for_evaluators_only(noted, anon_client, analyst_client, evaluator_client):
    for outsider in (anon_client, analyst_client):
        header, _ = parse(body := body_of(outsider.get("/api/configurations/export/")))
        assert "notes" not in header and CONFIG_NOTE not in body
        header, _ = parse(body := body_of(outsider.get("/api/excerpts/export/")))
        assert "note" not in header and EXCERPT_NOTE not in body
    _, rows = parse(body_of(evaluator_client.get("/api/configurations/export/")))
    assert {row["slug"]: row["notes"] for row in rows}["shc-fear"] == CONFIG_NOTE
    _, rows = parse(body_of(evaluator_client.get("/api/excerpts/export/")))
    assert {row["slug"]: row["note"] for row in rows}["q-jobs"] == EXCERPT_NOTE


@pytest.mark.parametrize("url,parameter", [
    ("/api/excerpts/export/?team=nobody", "team"),
    ("/api/configurations/export/?effect=sometimes", "effect"),
    ("/api/configurations/export/?view=wide", "view"),
    ("/api/excerpts/export/?tema=shc", "tema"),
    ("/api/excerpts/export/?page_size=10", "page_size"),
    ("/api/configurations/export/?cursor=abc", "cursor"),
])
def test_bad_parameter_is_a_400_naming_it(noted, anon_client, url, parameter):
    response = anon_client.get(url, HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert list(response.json()) == [parameter]
    # Without an Accept header the error comes as CSV, like the download would have.
    response = anon_client.get(url)
    assert response.status_code == 400
    assert parse(response.content.decode())[1][0]["parameter"] == parameter


def test_formula_cells_as_the_renderer_has_them(noted, anon_client):
    # Data cells stay verbatim (evaluators wrote them; excerpt text is verbatim) ...
    noted.shc_control.title = "=HYPERLINK(\"http://example.com\")"
    noted.shc_control.save()
    _, rows = parse(body_of(anon_client.get("/api/configurations/export/")))
    assert rows[0]["title"] == "=HYPERLINK(\"http://example.com\")"
    # ... an error cell that echoes the request gets the apostrophe.
    response = anon_client.get("/api/configurations/export/?%3DHYPERLINK(1)=x")
    assert response.status_code == 400
    assert parse(response.content.decode())[1][0]["parameter"] == "'=HYPERLINK(1)"


# Excerpts: the excerpts (+ source, team, role, wave, users) and their visible links (+ configuration,
# in the excerpts' order), each on a server-side cursor, whatever the size. Configurations: the rows, then per chunk teams, contexts,
# outcomes (+ kind), quality domains, pathways, Wish shifts, evidence links. Evidence links: one.
QUERIES_PER_CHUNK = {"excerpts": (2, 0), "configurations": (1, 7), "evidence-links": (1, 0), "teams": (1, 3)}
# On PostgreSQL, COPY writes the excerpts and the configurations (cmo_kb/copy_csv.py): JIT off, one
# COPY of every row (each cell, the links and the related slugs in it), JIT back on, whatever the
# size. (tests/api/test_copy_export.py: its bytes.)
COPIED = {"excerpts", "configurations"}


@pytest.mark.parametrize("resource", QUERIES_PER_CHUNK)
def test_query_count_does_not_grow_with_rows(noted, grow, anon_client, resource, monkeypatch):
    copied = connection.vendor == "postgresql" and resource in COPIED
    first, per_chunk = (3, 0) if copied else QUERIES_PER_CHUNK[resource]
    counts = []
    for extra in (3, 12):
        grow(extra)
        with CaptureQueriesContext(connection) as queries:
            body_of(anon_client.get(f"/api/{resource}/export/"))
        counts.append(len(queries))
    assert counts[0] == counts[1] == first + per_chunk
    # Past one chunk, each further chunk costs the list's prefetches again (as a page would), and
    # nothing per row.
    monkeypatch.setattr(csv_export.CSVExportMixin, "export_chunk_size", 4)
    with CaptureQueriesContext(connection) as queries:
        rows = parse(body_of(anon_client.get(f"/api/{resource}/export/")))[1]
    chunks = -(-len(rows) // 4)
    assert chunks >= 2 or resource == "teams"
    # (excerpts: two cursors, whatever the number of chunks; COPY: one)
    assert len(queries) == first + per_chunk * chunks


def test_excerpts_are_written_without_a_serializer_per_row(noted, grow, anon_client, monkeypatch):
    # evidence/excerpt_export.py writes the rows; the tests above hold them equal to the pages.
    from evidence.api import ExcerptSerializer

    def refuse(self, instance):
        raise AssertionError("serialized a row")

    monkeypatch.setattr(ExcerptSerializer, "to_representation", refuse)
    grow(3)
    assert len(parse(body_of(anon_client.get("/api/excerpts/export/")))[1]) == 6
    # A search still goes through the serializer (rank, snippet).
    with pytest.raises(AssertionError, match="serialized a row"):
        body_of(anon_client.get("/api/excerpts/export/?search=control"))
