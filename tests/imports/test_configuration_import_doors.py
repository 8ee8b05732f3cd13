"""The three doors of import_configurations beyond the function: the API (POST
/api/imports/configurations/), the workbench page and its template downloads. (The command:
tests/imports/test_configuration_import.py.)"""

import io

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from cmo_kb.vocabulary import EVALUATOR_GROUP, ReviewStatus
from tests.conftest import _make_user, token_client
from tests.imports.test_configuration_import import csv_file, row

URL = "/api/imports/configurations/"
ADMIN_URL = "/admin/mechanisms/cmoconfiguration/import/"


def upload(rows, name="sheet.csv"):
    return SimpleUploadedFile(name, csv_file(rows, name=name).getvalue(), content_type="text/csv")


def post(client, rows=None, file=None, **fields):
    data = {"programme": "ctg", **fields}
    if file is not None or rows is not None:
        data["file"] = file if file is not None else upload(rows)
    return client.post(URL, data, format="multipart")


def test_api_dry_run_is_200_and_writes_nothing_then_201(kb, evaluator_client):
    from mechanisms.models import CMOConfiguration

    response = post(evaluator_client, [row()], dry_run="true")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["file"], body["dry_run"], body["written"], body["errors"]) == ("sheet.csv", True, False, [])
    assert body["counts"] == [{"action": "created", "kind": "CMO configuration", "count": 1},
                              {"action": "created", "kind": "evidence link", "count": 2}]
    assert not CMOConfiguration.objects.filter(slug="patients-feel-in-control").exists()
    response = post(evaluator_client, [row()])
    assert response.status_code == 201
    assert response.json()["entries"] == {**body, "dry_run": False, "written": True}["entries"]
    configuration = CMOConfiguration.objects.get(slug="patients-feel-in-control")
    assert configuration.status == ReviewStatus.DRAFT
    record = configuration.history.get(history_type="+")
    assert (record.history_user.username, record.history_change_reason) == ("eva", "import: sheet.csv")


def test_api_refusal_is_422_with_every_error(kb, evaluator_client):
    from mechanisms.models import CMOConfiguration

    response = post(evaluator_client, [row(), row(title="Bad", evidence="Nobody said this.", mechanism="nope")])
    assert response.status_code == 422
    assert response.json()["written"] is False
    assert [(e["where"], e["field"], e["value"]) for e in response.json()["errors"]] == [
        ("sheet.csv row 3", "mechanism", "nope"), ("sheet.csv row 3", "evidence", "Nobody said this.")]
    assert not CMOConfiguration.objects.filter(slug="patients-feel-in-control").exists()


def test_api_bad_input_is_a_400_naming_the_field(kb, evaluator_client):
    assert post(evaluator_client).json() == {"file": ["No file was submitted."]}
    bad = SimpleUploadedFile("sheet.xlsx", b"not a workbook")
    response = post(evaluator_client, file=bad)
    assert (response.status_code, response.json()) == (400, {"file": ["Not a readable .xlsx workbook (BadZipFile)."]})
    response = post(evaluator_client, file=SimpleUploadedFile("notes.txt", b"title\n"))
    assert (response.status_code, response.json()) == (400, {"file": ["'notes.txt' is neither a .csv nor a .xlsx file."]})
    response = post(evaluator_client, [row()], dry_run="perhaps")
    assert response.status_code == 400 and list(response.json()) == ["dry_run"]
    response = post(evaluator_client, [row()], programme="nowhere")
    assert (response.status_code, response.json()) == (422, {"programme": [
        "No programme 'nowhere' that you can see (see /api/programmes/)."]})


def test_api_non_writers_are_refused_naming_the_programme(kb, analyst_client, anon_client, django_user_model):
    from projects.models import Programme

    assert post(anon_client, [row()]).status_code == 401
    response = post(analyst_client, [row()])
    assert response.status_code == 403
    other = Programme.objects.create(slug="other", name="Other", is_public=True)
    stranger = _make_user(django_user_model, "stranger", EVALUATOR_GROUP, is_staff=True, programme=other)
    stranger_client = token_client(stranger)
    response = post(stranger_client, [row()])
    assert response.status_code == 403
    assert response.json()["programme"] == "ctg"
    # A private programme is not there at all for outsiders.
    Programme.objects.create(slug="secret", name="Secret", is_public=False)
    response = post(stranger_client, [row()], programme="secret")
    assert response.status_code == 422 and list(response.json()) == ["programme"]


def test_the_schema_documents_the_import(db, anon_client):
    schema = anon_client.get("/api/schema/?format=json").json()
    operation = schema["paths"][URL]["post"]
    assert list(operation["requestBody"]["content"]) == ["multipart/form-data"]
    assert {"200", "201", "400", "401", "403", "422"} <= set(operation["responses"])


# --- the workbench ----------------------------------------------------------------------------


def test_the_list_links_the_import_page_and_the_templates_download(kb, evaluator, client):
    client.force_login(evaluator)
    assert ADMIN_URL in client.get("/admin/mechanisms/cmoconfiguration/").content.decode()
    response = client.get(ADMIN_URL + "template.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("title,slug,teams,contexts,activity,resource,reasoning,mechanism,theme,effect,influence,outcomes")
    assert len(lines) == 2
    workbook = openpyxl.load_workbook(io.BytesIO(client.get(ADMIN_URL + "template.xlsx").content), read_only=True)
    header = next(workbook.worksheets[0].iter_rows(values_only=True))
    assert header[:3] == ("title", "slug", "teams")


def test_the_page_runs_a_dry_run_whose_page_confirms_it(kb, evaluator, client, settings, tmp_path):
    """The upload becomes a dry run in the background (evidence/import_runs.py); its page shows the
    report row by row and, without errors, the button that imports the file for real."""
    from evidence.import_runs import ImportRun
    from mechanisms.models import CMOConfiguration

    settings.MEDIA_ROOT = str(tmp_path)
    client.force_login(evaluator)
    response = client.post(ADMIN_URL, {"programme": "ctg", "file": upload([row(), row(title="Bad", mechanism="nope")])})
    refused = ImportRun.objects.get()
    assert response["Location"] == f"/admin/evidence/importrun/{refused.pk}/change/"
    page = client.get(response["Location"]).content.decode()
    assert "Refused: nothing was written" in page and "no such mechanism in the programme" in page
    assert 'id="import-confirm"' not in page
    response = client.post(ADMIN_URL, {"programme": "ctg", "file": upload([row()])})
    page = client.get(response["Location"]).content.decode()
    assert "Dry run: what a real import will write" in page and "patients-feel-in-control" in page
    assert not CMOConfiguration.objects.filter(slug="patients-feel-in-control").exists()
    dry = ImportRun.objects.first()
    response = client.post(f"/admin/evidence/importrun/{dry.pk}/confirm/")
    real = ImportRun.objects.first()
    assert (response["Location"], real.confirms, real.status) == (
        f"/admin/evidence/importrun/{real.pk}/change/", dry, "done")
    configuration = CMOConfiguration.objects.get(slug="patients-feel-in-control")
    assert configuration.status == ReviewStatus.DRAFT and configuration.created_by == evaluator
    page = client.get(response["Location"]).content.decode()
    assert "Written" in page and 'id="import-undo"' in page
    # A dry run is confirmed once.
    response = client.post(f"/admin/evidence/importrun/{dry.pk}/confirm/")
    assert response.status_code == 302 and CMOConfiguration.objects.filter(slug__startswith="patients").count() == 1
    # Undo, from the run's page.
    response = client.post(f"/admin/evidence/importrun/{real.pk}/undo/", follow=True)
    assert f"Import #{real.pk} undone" in response.content.decode()
    assert not CMOConfiguration.objects.filter(slug="patients-feel-in-control").exists()


def test_the_page_is_only_for_writers_of_the_programme(kb, client, django_user_model):
    from projects.models import Programme

    other = Programme.objects.create(slug="other", name="Other", is_public=True)
    stranger = _make_user(django_user_model, "stranger", EVALUATOR_GROUP, is_staff=True, programme=other)
    client.force_login(stranger)
    response = client.post(ADMIN_URL, {"programme": "ctg", "file": upload([row()])})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert "report" not in response.context
    nowhere = django_user_model.objects.create_user("nowhere", password="pw", is_staff=True)
    from django.contrib.auth.models import Group

    nowhere.groups.add(Group.objects.get(name=EVALUATOR_GROUP))
    client.force_login(nowhere)
    assert client.get(ADMIN_URL).status_code == 403
