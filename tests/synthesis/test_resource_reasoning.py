"""A mechanism as resource and reasoning (issue 14, Dalkin et al. 2015): both text fields of a
configuration, through every door: the API (full, compact, list fast path, writes), CSV, the page,
the spreadsheet import and the REFI-QDA export."""

import csv
import io

import pytest

from mechanisms.models import CMOConfiguration

RESOURCE = "Training and the chance to run parts of their own treatment"
REASONING = "Patients feel trusted and in control, so they take on more"


@pytest.fixture
def recorded(kb):
    CMOConfiguration.objects.filter(pk=kb.shc_control.pk).update(resource=RESOURCE, reasoning=REASONING)
    return kb


def test_the_api_gives_both_in_every_view(recorded, anon_client):
    detail = anon_client.get("/api/configurations/shc-control/").json()
    assert (detail["resource"], detail["reasoning"]) == (RESOURCE, REASONING)
    compact = anon_client.get("/api/configurations/shc-control/?view=compact").json()
    assert (compact["resource"], compact["reasoning"]) == (RESOURCE, REASONING)
    rows = {row["slug"]: row for row in anon_client.get("/api/configurations/").json()["results"]}
    assert (rows["shc-control"]["resource"], rows["shc-control"]["reasoning"]) == (RESOURCE, REASONING)
    assert (rows["shc-fear"]["resource"], rows["shc-fear"]["reasoning"]) == ("", "")


def test_evaluators_write_them(kb, evaluator_client):
    draft = kb.pathway_targets
    etag = evaluator_client.get(f"/api/configurations/{draft.slug}/").headers["ETag"]
    response = evaluator_client.patch(f"/api/configurations/{draft.slug}/", {"resource": RESOURCE, "reasoning": REASONING},
                                      content_type="application/json", HTTP_IF_MATCH=etag)
    assert response.status_code == 200, response.content
    draft.refresh_from_db()
    assert (draft.resource, draft.reasoning) == (RESOURCE, REASONING)
    assert draft.history.latest().reasoning == REASONING


def test_csv_has_the_columns(recorded, anon_client):
    response = anon_client.get("/api/configurations/?format=csv")
    rows = {row["slug"]: row for row in csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")))}
    assert (rows["shc-control"]["resource"], rows["shc-control"]["reasoning"]) == (RESOURCE, REASONING)


def test_the_page_shows_them_or_not_recorded(recorded, client):
    page = client.get("/programmes/ctg/configurations/shc-control/").content.decode()
    assert RESOURCE in page and REASONING in page
    empty = client.get("/programmes/ctg/configurations/shc-fear/").content.decode()
    section = empty[empty.index("cmo-detail__mechanism"):]
    assert section.count("Not recorded", 0, section.index("</dl>")) == 2


def test_the_spreadsheet_import_reads_them(kb, tmp_path):
    from mechanisms.configuration_import import import_configurations

    path = tmp_path / "configurations.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["title", "statement", "resource", "reasoning"])
        writer.writerow(["Shared care builds trust", "In SHC, training builds trust.", RESOURCE, REASONING])
    report = import_configurations(str(path), kb.programme)
    assert report.written, list(report.lines())
    imported = CMOConfiguration.objects.get(title="Shared care builds trust")
    assert (imported.resource, imported.reasoning, imported.status) == (RESOURCE, REASONING, "draft")


def test_the_refi_qda_codebook_describes_them(recorded):
    from evidence.refi_qda import build_codebook_xml, load_export_data

    xml = build_codebook_xml(load_export_data()).decode()
    assert f"Resource: {RESOURCE}" in xml and f"Reasoning: {REASONING}" in xml
