"""CSV formula injection in the API's ?format=csv (cmo_kb/api.py CSVRenderer).

Decision: cells holding the knowledge base's own data are written verbatim, even when they begin with
= + - @. Their authors are evaluators (trusted writers), excerpt text must stay exactly the source's
text (the verbatim rule), and the CSV is read by analysts' scripts, where a prefixed apostrophe would
be corruption. What is neutralised is the one place where a stranger's text starts a cell: an error
body echoes unknown query parameter names, so a crafted link such as
/api/teams/?format=csv&=HYPERLINK(...)=1 would hand its victim a spreadsheet with a live formula.
"""

import csv
import io

import pytest

EVIL = '=HYPERLINK("http://evil.example/","Click")'


def rows(response):
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))


@pytest.mark.parametrize("name", [EVIL, "+1+1", "-1+1", "@SUM(A1)", "\t=1+1"])
def test_a_reflected_parameter_name_cannot_start_a_formula(kb, anon_client, name):
    response = anon_client.get("/api/teams/", {"format": "csv", name: "1"})
    assert response.status_code == 400
    [row] = rows(response)
    assert row["parameter"] == "'" + name  # shown as text by spreadsheets, readable by people
    assert row["error"].startswith("Unknown query parameter. Accepted: cursor, format, page")


def test_json_errors_keep_the_parameter_name_as_sent(kb, anon_client):
    response = anon_client.get("/api/teams/", {EVIL: "1"})
    assert response.status_code == 400
    assert list(response.json()) == [EVIL]


def test_ordinary_error_rows_are_unchanged(kb, anon_client):
    [row] = rows(anon_client.get("/api/teams/", {"format": "csv", "programme": "x"}))
    assert row == {"parameter": "programme", "error": "Unknown programme 'x'. Accepted: ctg."}


def test_data_cells_stay_verbatim(kb, anon_client):
    """Excerpt text beginning with '-' (a bullet in the report) is exported exactly as quoted."""
    from evidence.models import EvidenceExcerpt

    from evidence.models import Source

    bullet = "- patients felt =more= in control"
    # (a source of its own: a source's text is fixed once excerpts point into it)
    source = Source.objects.create(programme=kb.programme, slug="bullets", kind=kb.report, title="Bullets", full_text=bullet + "\n")
    EvidenceExcerpt.objects.create(slug="bullet", source=source, text=bullet, start=0, end=len(bullet))
    data = {row["slug"]: row for row in rows(anon_client.get("/api/excerpts/", {"format": "csv"}))}
    assert data["bullet"]["text"] == bullet
