"""Our own REFI-QDA export of the whole Closing the Gap corpus (load_ctg) imported into an empty
programme: every selection an excerpt with the original's text, kind, section, attribution and team;
every code, coding, case, note and link in its place. (The full round trip, exporting the imported
programme again to the same project, comes with the exporter's side of it.)"""

import io

import pytest
from django.core.management import call_command
from django.db import transaction

from evidence import refi_qda
from evidence.codes import Code, Coding, Memo, Relation
from evidence.models import EvidenceExcerpt, Source
from evidence.refi_qda_import import import_refi_qda
from projects.models import Programme, Team
from tests.exports.conftest import P, Qdpx
from tests.imports.refi_projects import upload


@pytest.fixture(scope="module")
def imported(django_db_setup, django_db_blocker):
    """The corpus loaded, exported, and its export imported into an empty programme, once for the
    module; all rolled back at its end."""
    with django_db_blocker.unblock():
        with transaction.atomic():
            call_command("load_ctg", stdout=io.StringIO())
            payload = refi_qda.export_qdpx()
            programme = Programme.objects.create(slug="ctg-again", name="Closing the Gap, imported")
            report = import_refi_qda(upload("ctg.qdpx", payload), programme)
            yield programme, Qdpx(payload), report
            transaction.set_rollback(True)


@pytest.mark.django_db
def test_the_import_is_clean(imported):
    programme, qdpx, report = imported
    assert report.ok and report.written, list(report.lines())[:20]
    assert not any(note.startswith("project.qde line") for note in report.notes), report.notes[:5]


@pytest.mark.django_db
def test_every_selection_is_an_excerpt_with_the_original_text_kind_section_attribution_and_team(imported):
    programme, qdpx, _ = imported
    originals = {refi_qda.selection_guid(e.slug): e for e in
                 EvidenceExcerpt.objects.exclude(source__programme=programme).select_related("team", "source")}
    copies = {e.qda_guid: e for e in EvidenceExcerpt.objects.filter(source__programme=programme).select_related("team")}
    selections = qdpx.selections()
    assert len(selections) > 100
    assert set(copies) == set(selections) == set(originals)
    for guid, copy in copies.items():
        original = originals[guid]
        assert (copy.text, copy.start, copy.end) == (original.text, original.start, original.end), original.slug
        assert (copy.kind, copy.section, copy.attribution) == (original.kind, original.section, original.attribution)
        assert (copy.team.name if copy.team else None) == (original.team.name if original.team else None)


@pytest.mark.django_db
def test_sources_come_back_with_their_text_and_variables(imported):
    programme, qdpx, _ = imported
    for text_source in qdpx.all("TextSource"):
        copy = Source.objects.get(programme=programme, qda_guid=text_source.get("guid"))
        original = Source.objects.exclude(programme=programme).get(title=copy.title)
        assert copy.full_text == original.full_text == qdpx.text_of(text_source)
        assert (copy.kind, copy.date, copy.authors, copy.publisher) == (
            original.kind, original.date, original.authors, original.publisher)


@pytest.mark.django_db
def test_codes_codings_cases_notes_and_links_are_all_there(imported):
    programme, qdpx, _ = imported
    codes = list(qdpx.all("Code"))
    assert Code.objects.filter(programme=programme).count() == len(codes)
    stored = {c.guid: c for c in Code.objects.filter(programme=programme).select_related("parent")}
    parents = {child.get("guid"): parent.get("guid") for parent in codes for child in parent.findall(P + "Code")}
    for element in codes:
        code = stored[element.get("guid")]
        assert (code.name, code.codable, code.colour) == (
            element.get("name"), element.get("isCodable") == "true", element.get("color") or "")
        assert (code.parent.guid if code.parent else None) == parents.get(element.get("guid"))
    assert Coding.objects.filter(code__programme=programme).count() == len(list(qdpx.all("Coding")))
    cases = list(qdpx.all("Case"))
    teams = Team.objects.filter(programme=programme)
    assert sorted(t.qda_guid for t in teams) == sorted(c.get("guid") for c in cases)
    originals = {t.name: t for t in Team.objects.exclude(programme=programme)}
    for team in teams:
        assert (team.short_name, team.organisation) == (originals[team.name].short_name, originals[team.name].organisation)
    assert Memo.objects.filter(programme=programme).count() == len(list(qdpx.all("Note")))
    assert Relation.objects.filter(programme=programme).count() == len(list(qdpx.all("Link")))
    statement = Memo.objects.filter(programme=programme, name__startswith="Statement: ").first()
    assert statement.codes.count() == 1 and statement.text


@pytest.mark.django_db
def test_our_excerpt_kind_codes_set_the_kinds(imported):
    programme, _, _ = imported
    kinds = set(EvidenceExcerpt.objects.filter(source__programme=programme).values_list("kind", flat=True))
    assert {"participant_quote", "evaluator_finding"} <= kinds


@pytest.mark.django_db
def test_importing_it_again_changes_nothing(imported):
    programme, qdpx, _ = imported
    before = {model: model.objects.count() for model in (Code, Coding, Memo, Relation, EvidenceExcerpt, Source, Team)}
    report = import_refi_qda(upload("ctg.qdpx", qdpx.payload), programme)
    assert report.ok and report.written
    assert {action for action, _ in report.counts()} == {"updated"}
    assert all(entry.label.endswith("(unchanged)") for entry in report.entries), [
        e.label for e in report.entries if not e.label.endswith("(unchanged)")][:5]
    assert {model: model.objects.count() for model in before} == before
