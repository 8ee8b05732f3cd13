"""The doors of import_refi_qda beyond the function: the API (POST /api/imports/refi-qda/) and the
workbench page (/admin/evidence/source/import-qda/). (The command: test_refi_qda_import.py.)"""

from cmo_kb.vocabulary import EVALUATOR_GROUP
from evidence.codes import Code, Coding
from evidence.models import EvidenceExcerpt
from tests.conftest import _make_user, token_client
from tests.imports.refi_projects import QdaProject, upload

URL = "/api/imports/refi-qda/"
ADMIN_URL = "/admin/evidence/source/import-qda/"
TEXT = "Patient: I feel more in control of my own care now. Nurse: We were worried."


def project_bytes(past_the_end=False):
    project = QdaProject("upper", origin="MAXQDA 2022")
    user = project.user("Max Coder")
    code = project.code("Feeling in control")
    source = project.source("Interview 9", TEXT)
    start = TEXT.index("I feel")
    project.selection(source, start, len(TEXT) + 5 if past_the_end else start + 24, codes=[code], user=user)
    return project.qdpx()


def post(client, data=None, name="maxqda.qdpx", **fields):
    body = {"programme": "ctg", **fields}
    if data is not None:
        body["file"] = upload(name, data)
    return client.post(URL, body, format="multipart")


def test_api_dry_run_is_200_and_writes_nothing_then_201(kb, evaluator_client):
    response = post(evaluator_client, project_bytes(), dry_run="true")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["file"], body["dry_run"], body["written"], body["errors"]) == ("maxqda.qdpx", True, False, [])
    assert body["counts"] == [
        {"action": "created", "kind": "user", "count": 1}, {"action": "created", "kind": "code", "count": 1},
        {"action": "created", "kind": "source kind", "count": 1}, {"action": "created", "kind": "source", "count": 1},
        {"action": "created", "kind": "evidence excerpt", "count": 1}, {"action": "created", "kind": "coding", "count": 1}]
    assert not Code.objects.filter(name="Feeling in control").exists()
    response = post(evaluator_client, project_bytes())
    assert response.status_code == 201
    assert response.json()["entries"] == body["entries"]
    excerpt = EvidenceExcerpt.objects.get(text="I feel more in control o")
    assert (excerpt.source.programme.slug, excerpt.created_by.get_full_name()) == ("ctg", "Max Coder")
    coding = Coding.objects.get(excerpt=excerpt)
    record = coding.history.get(history_type="+")
    assert (record.history_user.username, record.history_change_reason) == ("eva", "import: maxqda.qdpx")


def test_api_refusal_is_422_naming_the_element(kb, evaluator_client):
    response = post(evaluator_client, project_bytes(past_the_end=True))
    assert response.status_code == 422
    body = response.json()
    assert body["written"] is False and body["entries"] == []
    [error] = body["errors"]
    assert (error["field"], error["value"]) == ("endPosition", str(len(TEXT) + 5))
    assert error["where"].startswith("project.qde line ") and "<PlainTextSelection guid=" in error["where"]
    assert not Code.objects.filter(name="Feeling in control").exists()


def test_api_offsets_option(kb, evaluator_client):
    response = post(evaluator_client, project_bytes(), dry_run="true", offsets="bytes")
    assert response.status_code == 400 and list(response.json()) == ["offsets"]
    response = post(evaluator_client, project_bytes(), dry_run="true", offsets="utf16")
    assert response.status_code == 200  # ASCII text: the same positions either way


def test_api_bad_input_is_a_400_naming_the_field(kb, evaluator_client):
    assert post(evaluator_client).json() == {"file": ["No file was submitted."]}
    response = post(evaluator_client, b"PK\x03\x04 broken")
    assert response.status_code == 400 and list(response.json()) == ["file"]
    assert "damaged ZIP archive" in response.json()["file"][0]
    response = post(evaluator_client, project_bytes(), dry_run="perhaps")
    assert response.status_code == 400 and list(response.json()) == ["dry_run"]
    response = post(evaluator_client, project_bytes(), programme="nowhere")
    assert (response.status_code, response.json()) == (422, {"programme": [
        "No programme 'nowhere' that you can see (see /api/programmes/)."]})


def test_api_non_writers_are_refused(kb, analyst_client, anon_client, django_user_model):
    from projects.models import Programme

    assert post(anon_client, project_bytes()).status_code == 401
    assert post(analyst_client, project_bytes()).status_code == 403
    other = Programme.objects.create(slug="other", name="Other", is_public=True)
    stranger = token_client(_make_user(django_user_model, "stranger", EVALUATOR_GROUP, is_staff=True, programme=other))
    response = post(stranger, project_bytes())
    assert response.status_code == 403 and response.json()["programme"] == "ctg"


def test_the_schema_documents_the_import(db, anon_client):
    operation = anon_client.get("/api/schema/?format=json").json()["paths"][URL]["post"]
    assert list(operation["requestBody"]["content"]) == ["multipart/form-data"]
    assert {"200", "201", "400", "401", "403", "422"} <= set(operation["responses"])


# --- the workbench ----------------------------------------------------------------------------


def test_the_sources_list_links_the_page(kb, evaluator, client):
    client.force_login(evaluator)
    assert ADMIN_URL in client.get("/admin/evidence/source/").content.decode()


def test_the_page_runs_a_dry_run_whose_page_confirms_it_then_undoes_it(kb, evaluator, client, settings, tmp_path):
    """The upload becomes a dry run in the background (evidence/import_runs.py): its page shows the
    report element by element and, without errors, the button that imports the file for real."""
    from evidence.import_runs import ImportRun

    settings.MEDIA_ROOT = str(tmp_path)
    client.force_login(evaluator)
    response = client.post(ADMIN_URL, {"programme": "ctg", "offsets": "codepoints",
                                       "file": upload("bad.qdpx", project_bytes(past_the_end=True))})
    refused = ImportRun.objects.get()
    assert (response.status_code, response["Location"]) == (302, f"/admin/evidence/importrun/{refused.pk}/change/")
    page = client.get(response["Location"]).content.decode()
    assert "Refused: nothing was written" in page and "past the end of the text of" in page
    assert 'id="import-confirm"' not in page
    response = client.post(ADMIN_URL, {"programme": "ctg", "offsets": "codepoints",
                                       "file": upload("good.qdpx", project_bytes())})
    dry = ImportRun.objects.first()
    assert (dry.kind, dry.dry_run, dry.status, dry.options) == ("refi-qda", True, "done", {"offsets": "codepoints"})
    page = client.get(response["Location"]).content.decode()
    assert "Dry run: what a real import will write" in page and "project.qde line " in page
    assert not Code.objects.filter(name="Feeling in control").exists()
    response = client.post(f"/admin/evidence/importrun/{dry.pk}/confirm/")
    real = ImportRun.objects.first()
    assert (real.confirms, real.status) == (dry, "done")
    assert Code.objects.get(name="Feeling in control").created_by == evaluator
    response = client.post(f"/admin/evidence/importrun/{real.pk}/undo/", follow=True)
    assert f"Import #{real.pk} undone" in response.content.decode()
    assert not Code.objects.filter(name="Feeling in control").exists()


def test_the_page_refuses_other_files_and_non_writers(kb, evaluator, analyst, client):
    client.force_login(evaluator)
    response = client.post(ADMIN_URL, {"programme": "ctg", "offsets": "codepoints",
                                       "file": upload("notes.txt", b"hello")})
    assert "Choose a .qdpx project or a .qdc codebook." in response.content.decode()
    client.force_login(analyst)
    assert client.get(ADMIN_URL).status_code in (302, 403)


def test_our_export_imported_into_the_programme_it_came_from_duplicates_nothing(kb, evaluator):
    """Sources, excerpts and teams carry the GUIDs of their slugs in our export: they are matched, not
    copied (and left untouched, so the publish lock has nothing to refuse an evaluator); the codes and
    codings are new."""
    from evidence import refi_qda
    from evidence.models import Source
    from evidence.refi_qda_import import import_refi_qda
    from projects.models import Team

    before = (Source.objects.count(), EvidenceExcerpt.objects.count(), Team.objects.count())
    report = import_refi_qda(upload("ctg.qdpx", refi_qda.export_qdpx()), kb.programme, user=evaluator)
    assert report.ok and report.written, list(report.lines())
    assert (Source.objects.count(), EvidenceExcerpt.objects.count(), Team.objects.count()) == before
    kinds = {kind: action for action, kind in report.counts()}
    assert (kinds["source"], kinds["evidence excerpt"], kinds["team"], kinds["code"], kinds["coding"]) == (
        "updated", "updated", "updated", "created", "created")
    assert all(e.label.endswith("(unchanged)") for e in report.entries if e.kind in ("source", "evidence excerpt", "team"))
    assert {c.code.name for c in Coding.objects.filter(excerpt=kb.q_control)} >= {"Participant quote", "Outcome"}
