"""POST /api/sources/upload/: a document becomes a source (the same import_document as the command and
the workbench). 201 with the source; 422 naming `file` for a file that cannot be read (400 for a missing field); 403 naming the
programme for someone who does not write there; nothing stored on any refusal. Answers match the
served schema."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import _make_user, join
from tests.imports.test_documents import DOCX_TEXT, make_docx, stored_files

URL = "/api/sources/upload/"


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def upload(client, name, data, **fields):
    return client.post(URL, {"file": SimpleUploadedFile(name, data), **fields}, format="multipart")


def test_an_evaluator_uploads_a_docx_and_gets_the_source(kb, evaluator_client, evaluator, media):
    from evidence.models import Source

    response = upload(evaluator_client, "report.docx", make_docx(), programme="ctg", kind="evaluation-report",
                      title="The report")
    assert response.status_code == 201, response.content
    body = response.json()
    assert response["Location"] == "/api/sources/the-report/"
    assert {k: body[k] for k in ("slug", "title", "kind", "programme", "length", "full_text", "extractor")} == {
        "slug": "the-report", "title": "The report", "kind": "evaluation-report", "programme": "ctg",
        "length": len(DOCX_TEXT), "full_text": DOCX_TEXT, "extractor": "python-docx"}
    assert body["outline"] == [{"level": 1, "title": "Closing the Gap", "start": 0},
                               {"level": 2, "title": "Targeting", "start": DOCX_TEXT.index("Targeting")}]
    source = Source.objects.get(slug="the-report")
    assert source.created_by == evaluator and stored_files(media) == ["sources/ctg/the-report/report.docx"]
    # The detail page shows the outline too.
    assert evaluator_client.get("/api/sources/the-report/").json()["outline"] == body["outline"]


@pytest.mark.parametrize("name, data, message", [
    ("report.docx", b"\x00\x01 random bytes, not a zip", "“report.docx” cannot be read as a Word document (.docx)"),
    ("report.pdf", b"PK\x03\x04 not really", "“report.pdf” cannot be read as a PDF document"),
    ("notes.exe", b"MZ", "“notes.exe” has the extension .exe"),
    ("notes.txt", b"", "“notes.txt” is empty"),
    ("notes.txt", b"  \r\n", "“notes.txt” has no text to store"),
])
def test_a_bad_file_is_a_422_naming_the_file_and_stores_nothing(kb, evaluator_client, media, name, data, message):
    from evidence.models import Source

    before = Source.objects.count()
    response = upload(evaluator_client, name, data, programme="ctg")
    assert response.status_code == 422, response.content
    assert list(response.json()) == ["file"] and response.json()["file"][0].startswith(message)
    assert Source.objects.count() == before and stored_files(media) == []


def test_too_large_is_a_422(kb, evaluator_client, media, settings):
    settings.SOURCE_UPLOAD_MAX_BYTES = 10
    response = upload(evaluator_client, "notes.txt", b"x" * 11, programme="ctg")
    assert response.status_code == 422
    assert response.json() == {"file": ["“notes.txt” is 11 bytes, larger than the limit of 10 bytes (SOURCE_UPLOAD_MAX_BYTES)."]}
    assert stored_files(media) == []


def test_missing_fields_and_unknown_slugs_are_named(kb, evaluator_client, media):
    response = evaluator_client.post(URL, {"title": "x"}, format="multipart")
    assert response.status_code == 400 and set(response.json()) == {"file", "programme"}
    response = upload(evaluator_client, "a.md", b"# A", programme="ctg", kind="nope")
    assert response.status_code == 422 and list(response.json()) == ["kind"]  # a slug no row has
    response = upload(evaluator_client, "a.md", b"# A", programme="nope")
    assert response.status_code == 422 and list(response.json()) == ["programme"]
    assert stored_files(media) == []


def test_json_is_not_an_upload(kb, evaluator_client):
    response = evaluator_client.post(URL, {"programme": "ctg"}, format="json")
    assert response.status_code == 415


def test_who_may_upload(kb, anon_client, analyst_client, media, django_user_model):
    from evidence.models import Source
    from projects.models import Programme
    from tests.conftest import token_client

    before = Source.objects.count()
    assert upload(anon_client, "a.md", b"# A", programme="ctg").status_code == 401
    assert upload(analyst_client, "a.md", b"# A", programme="ctg").status_code == 403
    # An evaluator of another programme writes there, not in ctg: a 403 naming ctg.
    other = Programme.objects.create(slug="other", name="Other", is_public=True)
    outsider = _make_user(django_user_model, "oeva", "Evaluator", is_staff=True, programme=other)
    outsider_client = token_client(outsider)
    response = upload(outsider_client, "a.md", b"# A", programme="ctg")
    assert response.status_code == 403 and response.json()["programme"] == "ctg"
    # ...and an analyst of ctg who evaluates elsewhere is refused in ctg too.
    join(outsider, kb.programme, "analyst")
    response = upload(outsider_client, "a.md", b"# A", programme="ctg")
    assert response.status_code == 403 and response.json()["programme"] == "ctg"
    assert Source.objects.count() == before and stored_files(media) == []


def test_a_private_programme_is_unknown_to_outsiders(kb, evaluator_client, media):
    from projects.models import Programme

    Programme.objects.create(slug="secret", name="Secret", is_public=False)
    response = upload(evaluator_client, "a.md", b"# A", programme="secret")
    assert response.status_code == 422 and list(response.json()) == ["programme"]
    assert "secret" in response.json()["programme"][0]


def test_answers_match_the_served_schema(kb, evaluator_client, django_user_model, media):
    from projects.models import Programme
    from tests.api.test_schema_truth import _served, _validator
    from tests.conftest import token_client

    schema = _served(evaluator_client)
    operation = schema["paths"]["/api/sources/upload/"]["post"]
    body = operation["requestBody"]["content"]
    assert list(body) == ["multipart/form-data"]
    form = body["multipart/form-data"]["schema"]
    form = schema["components"]["schemas"][form["$ref"].rsplit("/", 1)[1]] if "$ref" in form else form
    assert form["properties"]["file"] == {**form["properties"]["file"], "type": "string", "format": "binary"}
    assert sorted(form["required"]) == ["file", "programme"]
    assert {"201", "400", "401", "403", "415"} <= set(operation["responses"])

    response = upload(evaluator_client, "notes.md", b"# Notes\n\nBody.", programme="ctg")
    assert response.status_code == 201
    _validator(schema, "/api/sources/upload/", "post", 201)(response.json())
    response = upload(evaluator_client, "notes.docx", b"junk", programme="ctg")
    assert response.status_code == 422
    _validator(schema, "/api/sources/upload/", "post", 422)(response.json())
    response = evaluator_client.post(URL, {"title": "x"}, format="multipart")
    assert response.status_code == 400
    _validator(schema, "/api/sources/upload/", "post", 400)(response.json())
    Programme.objects.create(slug="other", name="Other", is_public=True)
    outsider = _make_user(django_user_model, "oeva", "Evaluator", is_staff=True,
                          programme=Programme.objects.get(slug="other"))
    response = upload(token_client(outsider), "notes.md", b"# N", programme="ctg")
    assert response.status_code == 403
    _validator(schema, "/api/sources/upload/", "post", 403)(response.json())


@pytest.mark.parametrize("name, stored", [
    ("a" * 400 + ".md", "sources/ctg/a/" + "a" * 150 + ".md"),
    ("...md", "sources/ctg/a/document.md"),
    ("../../etc/notes.md", "sources/ctg/a/notes.md"),
    ("weird name (1)!.md", "sources/ctg/a/weird_name_1.md"),
])
def test_any_file_name_is_stored_safely_within_its_column(kb, evaluator_client, media, name, stored):
    from evidence.models import Source

    response = upload(evaluator_client, name, b"# A\n\nBody.", programme="ctg")
    assert response.status_code == 201, response.content
    assert Source.objects.get(slug="a").file.name == stored
    assert stored_files(media) == [stored]
