"""Issue 12's round trip on the whole Closing the Gap corpus: our own export, read into an empty
programme as Code, Coding, Memo and Relation rows with the GUIDs it came with, exports again to the
same project (qde_compare: same codes, selections, codings, cases, notes, links and texts).

The reading is the REFI-QDA importer itself (evidence/refi_qda_import.py), as the command, the workbench
and the API run it: codes -> Code rows (GUID, parent, order), selections -> excerpts (qda_guid), codings
-> Coding rows, cases -> teams (qda_guid) and excerpt.team, notes -> Memo (with the codes, selections,
sources and links whose NoteRefs point at them), links -> Relation, users -> inactive accounts, our
"Excerpt kinds" codes -> EvidenceExcerpt.kind."""

import io
import zipfile

import pytest
from django.core.management import call_command
from django.db import transaction

from evidence import refi_qda
from evidence.refi_qda_import import import_refi_qda
from tests.imports.refi_projects import upload

from .qde_compare import canonical, differences, summary


@pytest.fixture(scope="module")
def round_trip(django_db_setup, django_db_blocker):
    """The corpus loaded, exported, read into an empty programme and exported again; rolled back at
    the module's end."""
    from projects.models import Programme

    with django_db_blocker.unblock():
        with transaction.atomic():
            call_command("load_ctg", stdout=io.StringIO())
            ctg = Programme.objects.filter(slug="ctg")
            original = refi_qda.export_qdpx(programmes=ctg)
            copy = Programme.objects.create(slug="ctg-copy", name=ctg.get().name, short_name=ctg.get().short_name)
            report = import_refi_qda(upload("ctg.qdpx", original), copy)
            assert report.written, list(report.lines())
            again = refi_qda.export_qdpx(programmes=Programme.objects.filter(slug="ctg-copy"))
            yield original, again
            transaction.set_rollback(True)


@pytest.mark.django_db
def test_the_corpus_exports_again_as_it_came_in(round_trip, project_schema):
    original, again = (canonical(payload) for payload in round_trip)
    counts = summary(original)
    assert counts["codes"] > 100 and counts["selections"] > 100 and counts["codings"] > counts["selections"]
    assert counts["cases"] > 5 and counts["notes"] > 10 and counts["links"] > 100
    # Every note keeps what refers to it, evidence links' notes included (Memo.relations).
    assert sum(1 for note in original["notes"].values() if any(tag == "Link" for tag, _ in note["refs"])) > 10
    assert differences(original, again) == []
    assert summary(again) == counts
    project_schema.validate(io.BytesIO(zipfile.ZipFile(io.BytesIO(round_trip[1])).read("project.qde")))


@pytest.mark.django_db
def test_the_copy_exports_the_same_codebook_tree_byte_for_byte(round_trip):
    # The CodeBook element itself, not only its canonical form: same codes, same order, same text.
    def codebook(payload):
        qde = zipfile.ZipFile(io.BytesIO(payload)).read("project.qde").decode("utf-8")
        return qde[qde.index("<CodeBook>"):qde.index("</CodeBook>")]

    assert codebook(round_trip[1]) == codebook(round_trip[0])


@pytest.mark.django_db
def test_an_independent_reader_reads_both_exports_whole(round_trip, tmp_path):
    from .independent_reader import read_with_pyrefiqda

    for n, payload in enumerate(round_trip):
        counts, _, texts = read_with_pyrefiqda(payload, tmp_path / str(n))
        ours = canonical(payload)
        assert counts == summary(ours)
        assert texts == {guid: source["text"] for guid, source in ours["sources"].items()}
