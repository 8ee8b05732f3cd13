"""Curators' internal notes (CMOConfiguration.notes, EvidenceExcerpt.note; cmo_kb/internal_notes.py)
reach evaluators only, on every path: API JSON (detail, list, compact, search), CSV, the schema's
description, the public pages, and the REFI-QDA exports. Public rationale (evidence-link and Wish-shift
notes) stays visible to everyone."""

import csv
import io
import zipfile

import pytest
from django.core.management import call_command

from evidence import refi_qda

CONFIG_NOTE = "INTERNAL: check the fear quote against wave 2 before citing."
EXCERPT_NOTE = "INTERNAL: spans a page break verbatim."
LINK_NOTE = "Public rationale: the fear names the mechanism."


@pytest.fixture
def noted(kb):
    kb.shc_fear.notes = CONFIG_NOTE
    kb.shc_fear.save()
    kb.q_jobs.note = EXCERPT_NOTE
    kb.q_jobs.save()
    link = kb.shc_fear.evidence_links.get()
    link.note = LINK_NOTE
    link.save()
    return kb


@pytest.fixture
def session_client(client, django_user_model):
    """A browser-like client signed in (session) as the named fixture user, or anonymous."""

    def signed_in(user=None):
        client.logout()
        if user is not None:
            client.force_login(user)
        return client

    return signed_in


def csv_rows(response):
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


@pytest.fixture(params=["anonymous", "analyst"])
def outsider(request, anon_client, analyst_client):
    return {"anonymous": anon_client, "analyst": analyst_client}[request.param]


def test_configuration_json_has_no_notes_for_outsiders(noted, outsider):
    detail = outsider.get("/api/configurations/shc-fear/").json()
    assert detail["slug"] == "shc-fear"
    assert "notes" not in detail
    # Public rationale is still there.
    assert [e["note"] for e in detail["evidence"]] == [LINK_NOTE]
    for url in ["/api/configurations/", "/api/configurations/?view=compact", "/api/configurations/?search=fear"]:
        results = outsider.get(url).json()["results"]
        assert "shc-fear" in [r["slug"] for r in results], url
        assert all("notes" not in r for r in results), url
    assert CONFIG_NOTE not in outsider.get("/api/configurations/?search=fear").content.decode()


def test_configuration_json_has_notes_for_evaluators(noted, evaluator_client):
    detail = evaluator_client.get("/api/configurations/shc-fear/").json()
    assert detail["notes"] == CONFIG_NOTE
    compact = evaluator_client.get("/api/configurations/?view=compact").json()["results"]
    assert {r["slug"]: r["notes"] for r in compact}["shc-fear"] == CONFIG_NOTE


def test_configuration_csv_has_no_notes_column_for_outsiders(noted, outsider):
    for view in ["", "&view=compact"]:
        response = outsider.get(f"/api/configurations/?format=csv{view}")
        rows = csv_rows(response)
        assert rows and "notes" not in rows[0], view
        assert CONFIG_NOTE not in response.content.decode()


def test_configuration_csv_has_notes_for_evaluators(noted, evaluator_client):
    rows = csv_rows(evaluator_client.get("/api/configurations/?format=csv&view=compact"))
    assert {r["slug"]: r["notes"] for r in rows}["shc-fear"] == CONFIG_NOTE


def test_excerpt_note_is_for_evaluators_only(noted, outsider, evaluator_client):
    url = "/api/excerpts/q-jobs/"
    assert "note" not in outsider.get(url).json()
    assert evaluator_client.get(url).json()["note"] == EXCERPT_NOTE
    # Its links' notes are public rationale.
    assert [link["note"] for link in outsider.get(url).json()["links"]] == [LINK_NOTE]
    listed = outsider.get("/api/excerpts/").json()["results"]
    assert listed and all("note" not in r for r in listed)
    rows = csv_rows(outsider.get("/api/excerpts/?format=csv"))
    assert rows and "note" not in rows[0]
    assert EXCERPT_NOTE not in outsider.get("/api/excerpts/?format=csv").content.decode()
    rows = csv_rows(evaluator_client.get("/api/excerpts/?format=csv"))
    assert {r["slug"]: r["note"] for r in rows}["q-jobs"] == EXCERPT_NOTE


def test_the_schema_says_who_sees_the_notes(db, anon_client):
    components = anon_client.get("/api/schema/?format=json").json()["components"]["schemas"]
    for component, field in [("Configuration", "notes"), ("Excerpt", "note"), ("PatchedConfigurationWriteRequest", "notes")]:
        schema = components[component]
        assert schema["properties"][field]["description"].startswith("Evaluators only; absent for others."), component
        assert field not in schema.get("required", []), component
    # Public rationale is not marked.
    assert "Evaluators only" not in components["WishShift"]["properties"]["note"].get("description", "")


def test_evaluators_can_still_write_notes(noted, evaluator_client):
    response = evaluator_client.patch("/api/configurations/pathway-targets/", {"notes": "Drafting."}, format="json")
    assert response.status_code == 200, response.content
    noted.pathway_targets.refresh_from_db()
    assert noted.pathway_targets.notes == "Drafting."


@pytest.mark.parametrize("who", [None, "analyst"])
def test_pages_hide_internal_notes_from_outsiders(noted, session_client, analyst, who):
    client = session_client(analyst if who else None)
    page = client.get("/programmes/ctg/configurations/shc-fear/").content.decode()
    assert CONFIG_NOTE not in page
    assert "Curator’s notes" not in page
    excerpt_page = client.get(f"/excerpts/{noted.q_jobs.pk}/").content.decode()
    assert EXCERPT_NOTE not in excerpt_page
    assert LINK_NOTE in excerpt_page  # public rationale


def test_pages_show_internal_notes_to_evaluators(noted, session_client, evaluator):
    client = session_client(evaluator)
    page = client.get("/programmes/ctg/configurations/shc-fear/").content.decode()
    assert CONFIG_NOTE in page
    assert "evaluators only, not public" in page
    assert EXCERPT_NOTE in client.get(f"/excerpts/{noted.q_jobs.pk}/").content.decode()


def project_xml(payload):
    if not isinstance(payload, bytes):  # a response: the .qdpx download streams
        payload = b"".join(payload.streaming_content)
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        return archive.read("project.qde").decode()


def test_exports_leave_internal_notes_out_for_outsiders(noted, outsider):
    response = outsider.get("/api/export/qdpx/")
    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=300"
    qde = project_xml(response)
    assert CONFIG_NOTE not in qde and EXCERPT_NOTE not in qde
    assert LINK_NOTE in qde  # an evidence link's note is public rationale
    codebook = outsider.get("/api/export/qdc/").content.decode()
    assert CONFIG_NOTE not in codebook


def test_exports_carry_internal_notes_for_evaluators(noted, evaluator_client):
    response = evaluator_client.get("/api/export/qdpx/")
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    qde = project_xml(response)
    assert f"Curator's notes (internal): {CONFIG_NOTE}" in qde
    assert f"Curator's note (internal): {EXCERPT_NOTE}" in qde
    assert CONFIG_NOTE in evaluator_client.get("/api/export/qdc/").content.decode()


def test_export_command_includes_internal_notes_only_when_asked(noted, tmp_path):
    plain, noted_file = tmp_path / "plain.qdpx", tmp_path / "noted.qdpx"
    call_command("export_refi_qda", "--output", str(plain), stdout=io.StringIO())
    call_command("export_refi_qda", "--output", str(noted_file), "--internal-notes", stdout=io.StringIO())
    assert EXCERPT_NOTE not in project_xml(plain.read_bytes())
    assert EXCERPT_NOTE in project_xml(noted_file.read_bytes())
    assert plain.read_bytes() == refi_qda.export_qdpx()
