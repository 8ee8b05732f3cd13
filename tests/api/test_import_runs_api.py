"""/api/imports/ (evidence/import_api.py): start an import in the background, follow it, read its
report, undo it."""

import json

import pytest

from evidence.import_runs import ImportRun
from tests.conftest import token_client
from tests.imports.test_configuration_import import csv_file, row, xlsx_file


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def post(client, file, **fields):
    return client.post("/api/imports/", {"file": file, "programme": "ctg", **fields}, format="multipart")


def test_a_spreadsheet_dry_run_is_accepted_with_its_location_and_report(kb, evaluator_client):
    from mechanisms.models import CMOConfiguration

    response = post(evaluator_client, xlsx_file([row()]), dry_run="true")
    assert response.status_code == 202, response.json()
    body = response.json()
    run = ImportRun.objects.get()
    assert response["Location"] == f"/api/imports/{run.pk}/"
    assert {k: body[k] for k in ("id", "url", "status", "kind", "file", "programme", "user", "dry_run", "options",
                                 "done", "total", "percent", "ended", "written", "message")} == {
        "id": run.pk, "url": f"/api/imports/{run.pk}/", "status": "done", "kind": "configurations",
        "file": "configurations.xlsx", "programme": "ctg", "user": "eva", "dry_run": True, "options": {},
        "done": 1, "total": 1, "percent": 100, "ended": True, "written": False, "message": ""}
    assert [(e["action"], e["kind"], e["where"]) for e in body["report"]["entries"]][0] == (
        "created", "CMO configuration", "configurations.xlsx row 2")
    assert not CMOConfiguration.objects.filter(slug="patients-feel-in-control").exists()
    assert evaluator_client.get(f"/api/imports/{run.pk}/").json() == body


def test_a_real_run_with_options_writes_and_can_be_undone_once(kb, evaluator_client):
    from mechanisms.models import CMOConfiguration, Context

    response = post(evaluator_client, csv_file([row(contexts="Brand new")]), options=json.dumps({"create_terms": True}))
    assert response.status_code == 202
    run_id = response.json()["id"]
    assert response.json()["written"] and Context.objects.filter(name="Brand new").exists()
    response = evaluator_client.post(f"/api/imports/{run_id}/undo/")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "undone"
    assert not CMOConfiguration.objects.filter(slug="patients-feel-in-control").exists()
    assert not Context.objects.filter(name="Brand new").exists()
    response = evaluator_client.post(f"/api/imports/{run_id}/undo/")
    assert (response.status_code, response.json()) == (409, {"detail": f"Import #{run_id} was already undone.", "rows": []})


def test_undo_refused_after_a_later_change_names_the_row(kb, evaluator_client, lead):
    from mechanisms.models import CMOConfiguration
    from mechanisms.publish_lock import acting_as

    run_id = post(evaluator_client, csv_file([row()])).json()["id"]
    configuration = CMOConfiguration.objects.get(slug="patients-feel-in-control")
    with acting_as(lead):
        configuration.title = "Later"
        configuration.save()
    response = evaluator_client.post(f"/api/imports/{run_id}/undo/")
    assert response.status_code == 409
    assert response.json()["detail"] == f"Import #{run_id} cannot be undone: 1 row was changed after it. Nothing was changed."
    assert response.json()["rows"][0].startswith("CMO configuration “Later”: changed by")


def test_a_document_is_imported_by_its_extension_with_its_options(kb, evaluator_client):
    from evidence.models import Source

    upload = ("Interview\n\nText.\n").encode()
    import io

    handle = io.BytesIO(upload)
    handle.name = "nurse.md"
    response = post(evaluator_client, handle, options=json.dumps({"title": "A nurse", "kind": "interview"}))
    assert response.status_code == 202, response.json()
    assert response.json()["kind"] == "document"
    body = response.json()
    if body["status"] == "done":
        assert Source.objects.get(title="A nurse").kind.slug == "interview"
    else:  # no 'interview' kind in this knowledge base: refused, naming the field
        assert body["report"]["errors"][0]["field"] == "kind"


@pytest.mark.parametrize("fields, name, message", [
    ({}, "picture.png", {"file": ["No importer reads “picture.png”: give a file ending in .txt, .md, .markdown, .docx, "
                                  ".odt, .pdf, .html, .htm, .rtf, .csv, .xlsx, .qdpx, .qdc, or name the kind."]}),
    ({"kind": "nothing"}, "a.csv", {"kind": ['"nothing" is not a valid choice.']}),
    ({"options": "{"}, "a.csv", {"options": ['Not JSON: give an object, e.g. {"create_terms": true}.']}),
    ({"options": "[1]"}, "a.csv", {"options": ['Give a JSON object, e.g. {"create_terms": true}.']}),
    ({"options": '{"title": "x"}'}, "a.csv", {"options": ["Unknown option title for a configurations import. "
                                                          "Accepted: create_terms."]}),
    ({"options": '{"create_terms": "yes"}'}, "a.csv", {"options": ["create_terms: give true or false."]}),
    ({"programme": "nowhere"}, "a.csv", {"programme": ["No programme 'nowhere' that you can see (see /api/programmes/)."]}),
])
def test_bad_requests_name_the_field(kb, evaluator_client, fields, name, message):
    response = evaluator_client.post("/api/imports/", {"file": csv_file([row()], name=name), "programme": "ctg",
                                                       **fields}, format="multipart")
    assert (response.status_code, response.json()) == (400, message)
    assert not ImportRun.objects.exists()


def test_who_may_import_see_and_undo(kb, evaluator_client, analyst_client, anon_client, lead_client, evaluator,
                                     django_user_model):
    from cmo_kb.vocabulary import EVALUATOR_GROUP
    from projects.models import Programme
    from tests.conftest import _make_user, join

    response = post(analyst_client, csv_file([row()]))
    assert (response.status_code, response.json()) == (403, {
        "detail": "Only the evaluators and lead evaluators of a programme import into it; you write in no programme."})
    assert post(anon_client, csv_file([row()])).status_code == 401
    run_id = post(evaluator_client, csv_file([row()])).json()["id"]
    # Seen by its owner and the programme's writers; not by an analyst nor a writer of another programme.
    other = _make_user(django_user_model, "otto", EVALUATOR_GROUP, is_staff=True,
                       programme=Programme.objects.create(slug="other", name="Other"))
    other_client = token_client(other)
    response = post(other_client, csv_file([row()]))  # ctg is public: seen, not written in
    assert (response.status_code, response.json()) == (403, {
        "detail": "You do not write in the programme 'ctg': only its evaluators and lead evaluators can import into it.",
        "programme": "ctg"})
    assert [r["id"] for r in lead_client.get("/api/imports/").json()["results"]] == [run_id]
    for client in (analyst_client, other_client):
        assert client.get("/api/imports/").json()["results"] == []
        assert client.get(f"/api/imports/{run_id}/").status_code == 404
        assert client.post(f"/api/imports/{run_id}/undo/").status_code == 404
    colleague = join(_make_user(django_user_model, "cora", EVALUATOR_GROUP, is_staff=True), kb.programme, "evaluator")
    response = token_client(colleague).post(f"/api/imports/{run_id}/undo/")
    assert response.status_code == 403
    assert lead_client.post(f"/api/imports/{run_id}/undo/").json()["status"] == "undone"


def test_the_list_costs_the_same_queries_for_any_number_of_runs(kb, evaluator, evaluator_client,
                                                                django_assert_num_queries):
    for n in range(3):
        ImportRun.start(user=evaluator, programme=kb.programme, file=csv_file([row()], name=f"f{n}.csv"), dry_run=True)
    # Expect 3 queries:
    # * the token with its user  * count the runs  * the page of runs with their programme and user
    # (the programmes the user writes in are a subquery of both; the throttle counts in the cache)
    with django_assert_num_queries(3) as captured:
        response = evaluator_client.get("/api/imports/")
    assert response.status_code == 200 and len(response.json()["results"]) == 3, captured
