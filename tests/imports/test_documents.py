"""evidence/documents.py and evidence/document_import.py: real files made with their own libraries
(python-docx, odfpy, Chromium's print to PDF, pypdf's encryption), read back verbatim with their
headings; every refusal says which file and why and leaves no row and no file behind; the command
`import_source` is the same function with an exit status."""

import io
import os
import shutil
import subprocess
import zipfile

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from evidence.document_import import import_document
from evidence.documents import DocumentRefused, extract, section_at

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def assert_outline_points_at_titles(document):
    for heading in document.outline:
        start, title = heading["start"], heading["title"]
        assert document.text[start:start + len(title)] == title


@pytest.fixture
def media(settings, tmp_path):
    """A MEDIA_ROOT of the test's own, so "no file left behind" can be seen."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def stored_files(media):
    return sorted(str(p.relative_to(media)) for p in media.rglob("*") if p.is_file()) if media.exists() else []


# --- Files made by their own libraries ----------------------------------------------------------------


def make_docx():
    import docx

    document = docx.Document()
    document.add_heading("Closing the Gap", level=1)
    document.add_paragraph("Patients said: 'I feel more in control.'")
    document.add_paragraph("")  # spacing only: not a block
    document.add_heading("Targeting", level=2)
    document.add_paragraph("Staff chose  patients\twith care.")
    table = document.add_table(rows=2, cols=2)
    for (r, c), value in {(0, 0): "Team", (0, 1): "Bed days", (1, 0): "CAMHS", (1, 1): "-30%"}.items():
        table.cell(r, c).text = value
    document.add_paragraph("After the table.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


DOCX_TEXT = ("Closing the Gap\n\nPatients said: 'I feel more in control.'\n\nTargeting\n\n"
             "Staff chose  patients\twith care.\n\nTeam\tBed days\nCAMHS\t-30%\n\nAfter the table.")


def make_odt():
    from odf.opendocument import OpenDocumentText
    from odf.text import H, P, S, Tab

    document = OpenDocumentText()
    document.text.addElement(H(outlinelevel=1, text="Results"))
    document.text.addElement(P(text="Wish's power dimension shifted."))
    document.text.addElement(H(outlinelevel=2, text="Motivation to engage"))
    paragraph = P(text="Two")
    paragraph.addElement(S(c=2))  # <text:s c="2"/>: two spaces in a row, kept
    paragraph.addText("spaces")
    paragraph.addElement(Tab())
    paragraph.addText("and a tab.")
    document.text.addElement(paragraph)
    out = io.BytesIO()
    document.write(out)
    return out.getvalue()


ODT_TEXT = "Results\n\nWish's power dimension shifted.\n\nMotivation to engage\n\nTwo  spaces\tand a tab."

HTML = """<!doctype html><html><head><title>Not text</title><style>p{color:red}</style></head><body>
<h1>Results</h1>
<p>Patients &amp; staff said they felt
   more in control.</p>
<h2>Targeting</h2>
<p>Staff chose patients<br>carefully.</p>
<table><tr><th>Team</th><th>Change</th></tr><tr><td>SHC</td><td>power</td></tr></table>
<script>var ignored = 1;</script>
</body></html>"""
HTML_TEXT = ("Results\n\nPatients & staff said they felt more in control.\n\nTargeting\n\nStaff chose patients\n"
             "carefully.\n\nTeam\tChange\n\nSHC\tpower")


def print_pdf(tmp_path, html):
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (CI installs it): no PDF can be printed")
    source = tmp_path / "page.html"
    source.write_text(html, encoding="utf-8")
    target = tmp_path / "page.pdf"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                    "--generate-pdf-document-outline", f"--print-to-pdf={target}", source.as_uri()],
                   check=True, capture_output=True, timeout=120)
    return target.read_bytes()


PDF_HTML = """<!doctype html><html><body>
<h1>Results</h1><p>Patients said they felt more in control.</p>
<h2>Targeting</h2><p>Staff chose patients carefully.</p></body></html>"""
PDF_TEXT = "Results\n\nPatients said they felt more in control.\n\nTargeting\n\nStaff chose patients carefully."

RTF = (rb"{\rtf1\ansi\deff0{\fonttbl{\f0 Times;}}\f0 Results\par"
       b"\n" rb"Caf\'e9 staff said: we were worried.\par" b"\n" rb"Second paragraph.\par}")


# --- Extraction ------------------------------------------------------------------------------------


def test_docx_keeps_paragraphs_headings_and_tables_in_reading_order():
    document = extract(make_docx(), "report.docx")
    assert document.text == DOCX_TEXT
    assert document.outline == [{"level": 1, "title": "Closing the Gap", "start": 0},
                                {"level": 2, "title": "Targeting", "start": DOCX_TEXT.index("Targeting")}]
    assert_outline_points_at_titles(document)
    assert document.extractor == "python-docx" and document.extractor_version


def test_odt_keeps_spaces_and_tabs_and_outline_levels():
    document = extract(make_odt(), "report.odt")
    assert document.text == ODT_TEXT
    assert [(h["level"], h["title"]) for h in document.outline] == [(1, "Results"), (2, "Motivation to engage")]
    assert_outline_points_at_titles(document)
    assert document.extractor == "odfpy"


def test_html_reads_what_a_browser_shows_in_block_order():
    document = extract(HTML.encode(), "page.html")
    assert document.text == HTML_TEXT
    assert [(h["level"], h["title"]) for h in document.outline] == [(1, "Results"), (2, "Targeting")]
    assert_outline_points_at_titles(document)


def test_pdf_printed_by_chromium_with_its_bookmarks_as_outline(tmp_path):
    document = extract(print_pdf(tmp_path, PDF_HTML), "report.pdf")
    assert document.text == PDF_TEXT
    assert [(h["level"], h["title"]) for h in document.outline] == [(1, "Results"), (2, "Targeting")]
    assert_outline_points_at_titles(document)
    assert document.extractor == "pdfminer.six"


def test_an_encrypted_pdf_is_refused(tmp_path):
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=io.BytesIO(print_pdf(tmp_path, PDF_HTML)))
    writer.encrypt("secret", algorithm="RC4-128")  # RC4 needs no crypto library
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(DocumentRefused, match="“locked.pdf” is an encrypted PDF that needs a password"):
        extract(out.getvalue(), "locked.pdf")


def test_a_pdf_without_a_text_layer_is_refused(tmp_path):
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)  # a page and no text: what a scan without OCR reads as
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(DocumentRefused, match=r"“scan.pdf” is a PDF with no text layer \(a scanned document\?\)"):
        extract(out.getvalue(), "scan.pdf")


def test_rtf_one_block_per_paragraph_with_its_accents():
    document = extract(RTF, "notes.rtf")
    assert document.text == "Results\n\nCafé staff said: we were worried.\n\nSecond paragraph."
    assert document.outline == [] and document.extractor == "striprtf"


def test_markdown_stays_markdown_and_its_headings_point_at_their_titles():
    data = "# Results\n\nText with *emphasis*.\n\n```\n# not a heading\n```\n\n## Targeting ##\n\nMore.\n".encode()
    document = extract(data, "notes.md")
    assert document.text == data.decode()
    assert [(h["level"], h["title"]) for h in document.outline] == [(1, "Results"), (2, "Targeting")]
    assert_outline_points_at_titles(document)


def test_plain_text_loses_only_its_bom_and_crlf():
    data = "\ufeffLine one  \r\nLine two\r\n\r\n  Indented, kept.\rLast".encode("utf-8")
    document = extract(data, "transcript.txt")
    assert document.text == "Line one  \nLine two\n\n  Indented, kept.\nLast"
    assert document.outline == []


@pytest.mark.parametrize("name, data, message", [
    ("report.docx", bytes(range(256)) * 4, "“report.docx” cannot be read as a Word document (.docx): it is not a valid zip archive"),
    ("report.odt", b"PK\x03\x04" + b"\x00" * 40, "“report.odt” cannot be read as an OpenDocument text (.odt): it is not a valid zip archive"),
    ("report.docx", b"%PDF-1.7\n...", "“report.docx” has the extension .docx but its content is a PDF document"),
    ("report.pdf", RTF, "“report.pdf” has the extension .pdf but its content is an RTF document"),
    ("notes.txt", b"%PDF-1.4 ...", "“notes.txt” has the extension .txt but its content is a PDF document"),
    ("notes.txt", b"\x89PNG\r\n\x1a\n\x00\x00", "“notes.txt” has the extension .txt but its content is binary data"),
    ("notes.txt", b"caf\xe9", "“notes.txt” is not UTF-8 text (byte 3 cannot be read)"),
    ("notes.txt", b"", "“notes.txt” is empty"),
    ("notes.txt", b" \r\n\r\n ", "“notes.txt” has no text to store"),
    ("picture.png", b"\x89PNG", "“picture.png” has the extension .png: a source can be read from .txt, .md, .docx"),
    ("README", b"text", "“README” has no extension"),
])
def test_unreadable_files_are_refused_naming_the_file_and_why(name, data, message):
    with pytest.raises(DocumentRefused) as refused:
        extract(data, name)
    assert refused.value.message.startswith(message)
    assert refused.value.field == "file"


def test_an_odt_named_docx_is_a_mismatch():
    with pytest.raises(DocumentRefused, match="has the extension .docx but its content is an OpenDocument text"):
        extract(make_odt(), "report.docx")


def test_a_file_larger_than_the_setting_is_refused(settings):
    settings.SOURCE_UPLOAD_MAX_BYTES = 100
    with pytest.raises(DocumentRefused, match=r"“big.txt” is 101 bytes, larger than the limit of 100 bytes \(SOURCE_UPLOAD_MAX_BYTES\)"):
        extract(b"x" * 101, "big.txt")


def test_section_at_is_the_innermost_heading_path():
    outline = [{"level": 1, "title": "Results", "start": 0}, {"level": 2, "title": "Targeting", "start": 50},
               {"level": 2, "title": "New roles", "start": 90}, {"level": 1, "title": "Annex", "start": 120}]
    assert [section_at(outline, n) for n in (0, 49, 50, 100, 130)] == [
        "Results", "Results", "Results › Targeting", "Results › New roles", "Annex"]
    assert section_at([{"level": 1, "title": "Later", "start": 10}], 5) == ""


# --- Importing: the function and the command --------------------------------------------------------


def test_import_keeps_the_source_its_file_and_outline_and_fills_sections(kb, evaluator, media):
    from evidence.models import EvidenceExcerpt, Source

    data = make_docx()
    report = import_document(("report.docx", data), kb.programme, user=evaluator)
    assert report.written and report.ok
    source = Source.objects.get(title="Closing the Gap")
    assert (source.slug, source.kind.slug, source.programme, source.full_text) == (
        "closing-the-gap", "evaluation-report", kb.programme, DOCX_TEXT)
    assert (source.extractor, source.created_by) == ("python-docx", evaluator)
    assert source.outline[1] == {"level": 2, "title": "Targeting", "start": DOCX_TEXT.index("Targeting")}
    assert stored_files(media) == ["sources/ctg/closing-the-gap/report.docx"]
    with source.file.open("rb") as original:
        assert original.read() == data
    assert source.history.get().history_change_reason == "import: report.docx"

    start = DOCX_TEXT.index("Staff chose")
    excerpt = EvidenceExcerpt.objects.create(slug="staff-chose", source=source, start=start, end=start + 11,
                                             text="Staff chose")
    assert excerpt.section == "Closing the Gap › Targeting"
    named = EvidenceExcerpt.objects.create(slug="named", source=source, start=0, end=7, text="Closing", section="Mine")
    assert named.section == "Mine"  # a section given is kept


def test_a_second_import_of_the_same_title_gets_its_own_slug_and_folder(kb, media):
    first = import_document(("a.md", b"# Same\n\nOne."), kb.programme)
    second = import_document(("a.md", b"# Same\n\nTwo."), kb.programme)
    assert (first.source.slug, second.source.slug) == ("same", "same-2")
    assert stored_files(media) == ["sources/ctg/same-2/a.md", "sources/ctg/same/a.md"]


def test_a_dry_run_reports_and_stores_nothing(kb, media):
    from evidence.models import Source

    report = import_document(("notes.md", b"# Heading\n\nBody."), kb.programme, dry_run=True)
    assert report.ok and not report.written
    assert report.summary() == "notes.md: Dry run: nothing was written. 1 source created; 0 errors."
    assert report.notes == [f"16 characters, 1 heading; read by Python standard library {report.document.extractor_version}"]
    assert not Source.objects.filter(title="Heading").exists() and stored_files(media) == []


def test_a_non_writer_is_refused_before_anything_is_stored(kb, analyst, media):
    from evidence.models import Source
    from projects.membership import ProgrammeWriteRefused

    before = Source.objects.count()
    with pytest.raises(ProgrammeWriteRefused) as refused:
        import_document(("notes.md", b"# Heading\n\nBody."), kb.programme, user=analyst)
    assert refused.value.programme == "ctg"
    assert Source.objects.count() == before and stored_files(media) == []


def test_a_refusal_after_the_file_was_saved_leaves_no_file(kb, media, monkeypatch):
    """A model rule broken at the last moment (here: a title too long for the database once the
    check was passed) rolls the row back and deletes the stored original."""
    from evidence.models import Source

    def refuse(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(Source, "save", refuse)
    with pytest.raises(RuntimeError):
        import_document(("notes.md", b"# Heading\n\nBody."), kb.programme)
    assert stored_files(media) == []


def test_command_imports_and_prints_the_report(kb, media, tmp_path, lead):
    from evidence.models import Source

    path = tmp_path / "transcript.txt"
    path.write_bytes("\ufeffInterview one\r\nQ: How was it?\r\n".encode())
    out = io.StringIO()
    call_command("import_source", str(path), "--programme", "ctg", "--kind", "evaluation-report",
                 "--title", "Interview one", stdout=out)
    from evidence.import_runs import ImportRun

    run = ImportRun.objects.get(kind="document")
    assert out.getvalue().splitlines() == [
        "transcript.txt: Written. 1 source created; 0 errors.",
        f"  note: 29 characters, 0 headings; read by Python standard library {Source.objects.get(slug='interview-one').extractor_version}",
        "  source: interview-one",
        f"  import #{run.pk}: undo it with `manage.py undo_import {run.pk}`",
    ]
    assert Source.objects.get(slug="interview-one").full_text == "Interview one\nQ: How was it?\n"
    # The command's import is a run like the workbench's: undone in one step, its file with it.
    call_command("undo_import", str(run.pk), "--user", lead.username, stdout=io.StringIO())
    assert not Source.objects.filter(slug="interview-one").exists()


@pytest.mark.parametrize("args, message", [
    (["--programme", "nope"], "There is no programme 'nope'."),
    (["--programme", "ctg", "--kind", "nope"], "There is no source kind 'nope'. Accepted: evaluation-report."),
])
def test_command_refuses_bad_arguments_with_the_reason(kb, media, tmp_path, args, message):
    path = tmp_path / "notes.md"
    path.write_bytes(b"# H\n\nBody.")
    with pytest.raises(CommandError, match=message):
        call_command("import_source", str(path), *args, stdout=io.StringIO())


def test_command_exit_status_and_message_as_a_process(tmp_path):
    """Run as a process: a non-zero exit status and the reason on stderr (a missing file is refused
    before the database is asked anything, so no database is needed)."""
    import sys

    from django.conf import settings

    env = {**os.environ, "MEDIA_ROOT": str(tmp_path / "media"), "DATABASE_URL": f"sqlite:///{tmp_path / 'none.sqlite3'}"}
    result = subprocess.run([sys.executable, "manage.py", "import_source", str(tmp_path / "absent.docx"),
                             "--programme", "ctg"], capture_output=True, text=True, env=env, cwd=settings.BASE_DIR,
                            timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip() == f"CommandError: No such file: {tmp_path / 'absent.docx'}"
    assert not (tmp_path / "media").exists()


def test_command_as_a_user_holds_them_to_the_programme_rule(kb, media, tmp_path, analyst, evaluator):
    from evidence.models import Source

    path = tmp_path / "notes.md"
    path.write_bytes(b"# Notes\n\nBody.")
    before = Source.objects.count()
    with pytest.raises(CommandError, match="You do not write in the programme 'ctg'"):
        call_command("import_source", str(path), "--programme", "ctg", "--user", analyst.username, stdout=io.StringIO())
    assert Source.objects.count() == before and stored_files(media) == []
    with pytest.raises(CommandError, match="There is no user 'nobody'."):
        call_command("import_source", str(path), "--programme", "ctg", "--user", "nobody", stdout=io.StringIO())
    call_command("import_source", str(path), "--programme", "ctg", "--user", evaluator.username, stdout=io.StringIO())
    source = Source.objects.get(slug="notes")
    assert source.created_by == evaluator and source.history.get().history_user == evaluator


def test_command_refuses_a_corrupt_docx_in_process(kb, media, tmp_path):
    path = tmp_path / "broken.docx"
    path.write_bytes(os.urandom(2048))
    with pytest.raises(CommandError, match="“broken.docx” cannot be read as a Word document"):
        call_command("import_source", str(path), "--programme", "ctg", stdout=io.StringIO())
    assert stored_files(media) == []


def test_command_refuses_a_missing_file(kb, tmp_path):
    with pytest.raises(CommandError, match="No such file: "):
        call_command("import_source", str(tmp_path / "absent.txt"), "--programme", "ctg", stdout=io.StringIO())


def test_zip_helpers_are_not_fooled_by_a_docx_without_its_document(tmp_path):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(DocumentRefused, match="“x.docx” has the extension .docx but its content is a zip archive of another kind"):
        extract(out.getvalue(), "x.docx")


# --- The outline fills an excerpt's section on every path ---------------------------------------------


@pytest.fixture
def outlined(kb, media):
    """A source read from Markdown: '# Results' then '## Targeting'."""
    data = b"# Results\n\nOverall.\n\n## Targeting\n\nStaff chose patients carefully.\n"
    source = import_document(("results.md", data), kb.programme).source
    start = source.full_text.index("Staff chose")
    return source, start


def test_section_filled_through_the_api(outlined, evaluator_client):
    source, start = outlined
    response = evaluator_client.post("/api/excerpts/", {
        "slug": "api-excerpt", "source": source.slug, "start": start, "end": start + 11, "text": "Staff chose",
        "kind": "evaluator_finding"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["section"] == "Results › Targeting"


def test_section_filled_through_the_admin(outlined, client, evaluator):
    from evidence.models import EvidenceExcerpt

    source, start = outlined
    client.force_login(evaluator)
    response = client.post("/admin/evidence/evidenceexcerpt/add/", {
        "slug": "admin-excerpt", "kind": "evaluator_finding", "source": source.pk, "start": start, "end": start + 11,
        "text": "Staff chose", "section": "", "attribution": "", "note": "",
        "links-TOTAL_FORMS": "0", "links-INITIAL_FORMS": "0", "links-MIN_NUM_FORMS": "0", "links-MAX_NUM_FORMS": "1000"})
    assert response.status_code == 302, response.content.decode()[:3000]
    assert EvidenceExcerpt.objects.get(slug="admin-excerpt").section == "Results › Targeting"


def test_section_filled_by_bulk_imports(outlined):
    from evidence.bulk_write import bulk_write
    from evidence.models import EvidenceExcerpt

    source, _ = outlined
    start = source.full_text.index("Overall.")
    bulk_write(EvidenceExcerpt, [EvidenceExcerpt(slug="bulk-excerpt", source_id=source.pk, start=start, end=start + 8,
                                                 text="Overall.")])
    assert EvidenceExcerpt.objects.get(slug="bulk-excerpt").section == "Results"
