"""The workbench's "Upload a document": a preview that stores nothing, a confirmation that creates the
source (through import_document, as the command and the API), the programme rule, and the original
document downloadable by the programme's evaluators only."""

import re

import pytest

from tests.conftest import _make_user
from tests.imports.test_documents import DOCX_TEXT, make_docx, stored_files

UPLOAD = "/admin/evidence/source/upload/"


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.UPLOAD_STAGING_DIR = str(tmp_path / "staged")
    return tmp_path / "media"


def _file(name, data):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)


def test_the_changelist_links_to_the_upload_page(kb, client, evaluator):
    client.force_login(evaluator)
    assert 'href="/admin/evidence/source/upload/"' in client.get("/admin/evidence/source/").content.decode()


def test_preview_then_confirm(kb, client, evaluator, media, tmp_path):
    from evidence.models import Source

    client.force_login(evaluator)
    page = client.get(UPLOAD)
    assert page.status_code == 200 and "Upload a document" in page.content.decode()
    before = Source.objects.count()
    data = make_docx()
    preview = client.post(UPLOAD, {"file": _file("report.docx", data), "programme": kb.programme.pk, "title": ""})
    html = preview.content.decode()
    assert preview.status_code == 200, html
    assert "Nothing has been stored yet" in html
    assert "<th scope=\"row\">Title</th><td>Closing the Gap</td>" in html
    assert f"<th scope=\"row\">Characters</th><td>{len(DOCX_TEXT)}</td>" in html
    assert "<th scope=\"row\">Headings</th><td>2</td>" in html
    assert "Patients said: &#x27;I feel more in control.&#x27;" in html
    assert Source.objects.count() == before and stored_files(media) == []  # a preview stores nothing
    token = re.search(r'name="confirm" value="([^"]+)"', html).group(1)

    done = client.post(UPLOAD, {"confirm": token})
    source = Source.objects.get(slug="closing-the-gap")
    assert done.status_code == 302 and done["Location"] == f"/admin/evidence/source/{source.pk}/change/"
    assert source.full_text == DOCX_TEXT and source.created_by == evaluator
    from evidence.import_runs import ImportRun

    run = ImportRun.objects.get()  # the confirmed import ran as an ImportRun, so it can be undone
    assert source.history.get().history_change_reason == f"import #{run.pk}: report.docx"
    assert stored_files(media) == ["sources/ctg/closing-the-gap/report.docx"]
    assert list((tmp_path / "staged").iterdir()) == []
    # A token is good once.
    again = client.post(UPLOAD, {"confirm": token})
    assert again.status_code == 302 and again["Location"] == UPLOAD
    assert Source.objects.filter(title="Closing the Gap").count() == 1


def test_a_bad_file_is_shown_on_the_form_and_nothing_stored(kb, client, evaluator, media):
    from evidence.models import Source

    client.force_login(evaluator)
    before = Source.objects.count()
    response = client.post(UPLOAD, {"file": _file("report.pdf", b"%PDF-1.4 truncated"), "programme": kb.programme.pk})
    assert response.status_code == 400
    assert "“report.pdf” cannot be read as a PDF document" in response.content.decode()
    assert Source.objects.count() == before and stored_files(media) == []


def test_only_programmes_the_user_writes_in_are_offered(kb, client, django_user_model, media):
    from evidence.models import Source
    from projects.models import Programme

    other = Programme.objects.create(slug="other", name="Other", is_public=True)
    outsider = _make_user(django_user_model, "oeva", "Evaluator", is_staff=True, programme=other)
    client.force_login(outsider)
    page = client.get(UPLOAD).content.decode()
    programmes = re.search(r'<select name="programme".*?</select>', page, re.S).group(0)
    assert f'<option value="{other.pk}">Other</option>' in programmes and "Closing the Gap" not in programmes
    before = Source.objects.count()
    response = client.post(UPLOAD, {"file": _file("a.md", b"# A"), "programme": kb.programme.pk})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert Source.objects.count() == before and stored_files(media) == []


def test_a_confirmation_is_checked_again_as_the_user(kb, client, evaluator, media):
    """Between preview and confirm the user may lose their role: the import checks it again."""
    from evidence.models import Source
    from projects.models import Programme, ProgrammeMembership
    from tests.conftest import join

    join(evaluator, Programme.objects.create(slug="other", name="Other", is_public=True), "evaluator")
    client.force_login(evaluator)
    html = client.post(UPLOAD, {"file": _file("a.md", b"# A\n\nBody."), "programme": kb.programme.pk}).content.decode()
    token = re.search(r'name="confirm" value="([^"]+)"', html).group(1)
    ProgrammeMembership.objects.filter(user=evaluator, programme=kb.programme).update(role="analyst")
    before = Source.objects.count()
    response = client.post(UPLOAD, {"confirm": token}, follow=True)
    assert "You do not write in the programme &#x27;ctg&#x27;" in response.content.decode()
    assert Source.objects.count() == before and stored_files(media) == []


def test_the_original_is_downloaded_by_the_programmes_evaluators_only(kb, client, evaluator, analyst, media,
                                                                      django_user_model):
    from evidence.document_import import import_document
    from projects.models import Programme

    source = import_document(("notes.md", b"# Notes\n\nBody."), kb.programme).source
    url = f"/admin/evidence/source/{source.pk}/original/"
    client.force_login(evaluator)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="notes.md"'
    assert b"".join(response.streaming_content) == b"# Notes\n\nBody."
    # An evaluator of another programme sees ctg (public) but does not write there.
    other = Programme.objects.create(slug="other", name="Other", is_public=True)
    client.force_login(_make_user(django_user_model, "oeva", "Evaluator", is_staff=True, programme=other))
    assert client.get(url).status_code == 403
    client.force_login(analyst)  # not staff: the admin's login page
    assert client.get(url).status_code == 302
    client.logout()
    assert client.get(url)["Location"].startswith("/admin/login/")
    # A pasted source has no original.
    client.force_login(evaluator)
    assert client.get(f"/admin/evidence/source/{kb.source.pk}/original/").status_code == 404
    # The file is not at a public address.
    assert client.get(f"/media/{source.file.name}").status_code == 404
