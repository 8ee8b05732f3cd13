"""evidence/refi_qda_import.py: REFI-QDA projects and codebooks as NVivo, ATLAS.ti, MAXQDA, QualCoder
and Taguette write them (tests/imports/refi_projects.py writes them by hand), imported into a
programme all or nothing, with errors naming the element and its line."""

import io
import zipfile
from datetime import datetime, timezone

import pytest
from django.core.management import CommandError, call_command

from evidence.codes import Code, Coding, Memo, Relation
from evidence.models import EvidenceExcerpt, Source
from evidence.refi_qda_import import import_refi_qda
from projects.models import Programme, Team
from tests.imports.refi_projects import QdaProject, upload

TEXT = ("Interviewer: How did the new clinic change things?\n\n"
        "Patient: I feel more in control of my own care now.\n\n"
        "Nurse: We were worried our jobs would go.")


@pytest.fixture
def programme(db):
    return Programme.objects.create(slug="qda-study", name="QDA study", short_name="QDA")


def run(programme, data, name="project.qdpx", **options):
    return import_refi_qda(upload(name, data), programme, **options)


def span(text, needle):
    start = text.index(needle)
    return start, start + len(needle)


def counts(programme):
    return {
        "codes": Code.objects.filter(programme=programme).count(),
        "sources": Source.objects.filter(programme=programme).count(),
        "excerpts": EvidenceExcerpt.objects.filter(source__programme=programme).count(),
        "codings": Coding.objects.filter(code__programme=programme).count(),
        "teams": Team.objects.filter(programme=programme).count(),
        "memos": Memo.objects.filter(programme=programme).count(),
        "relations": Relation.objects.filter(programme=programme).count(),
    }


NOTHING = {"codes": 0, "sources": 0, "excerpts": 0, "codings": 0, "teams": 0, "memos": 0, "relations": 0}


# --- NVivo ---------------------------------------------------------------------------------------


def nvivo_project():
    """Lower-case GUIDs, sources/<name>.txt next to a .docx copy, an empty sources/.root, a code tree
    seven deep whose parents are codable, the same code name twice."""
    project = QdaProject("lower", origin="NVivo 14")
    ann = project.user("Ann Coder")
    bob = project.user("Bob Second")
    parent, chain = None, []
    for depth in range(7):
        parent = project.code(f"Level {depth + 1}", parent=parent, color="#1a2B3c" if depth == 0 else None)
        chain.append(parent)
    themes = project.code("Themes", codable=False)
    control_a = project.code("Control", parent=themes, description="Feeling in control")
    control_b = project.code("Control", parent=chain[2])  # NVivo repeats names
    source = project.source("Interview 1", TEXT, where="relative")
    first = project.selection(source, *span(TEXT, "I feel more in control of my own care now."),
                              codes=[control_a, chain[6], chain[0]], user=ann,
                              coding_users={chain[0]: bob}, created="2023-02-03T04:05:06Z")
    second = project.selection(source, *span(TEXT, "We were worried our jobs would go."), codes=[control_b], user=bob)
    project.extra_files["sources/.root"] = b""
    return project, {"ann": ann, "bob": bob, "chain": chain, "themes": themes, "control": (control_a, control_b),
                     "first": first, "second": second, "source": source}


def test_nvivo_project_comes_in_whole(programme):
    project, ids = nvivo_project()
    report = run(programme, project.qdpx())
    assert report.ok and report.written, list(report.lines())
    assert counts(programme) == {**NOTHING, "codes": 10, "sources": 1, "excerpts": 2, "codings": 4}

    # The tree: seven deep, parents codable, repeated names kept apart by GUID.
    deepest = Code.objects.get(programme=programme, guid=ids["chain"][6])
    names, code = [], deepest
    while code is not None:
        names.append(code.name)
        code = code.parent
    assert names == [f"Level {n}" for n in range(7, 0, -1)]
    assert all(Code.objects.get(guid=guid).codable for guid in ids["chain"])
    assert Code.objects.get(guid=ids["chain"][0]).colour == "#1a2B3c"
    assert Code.objects.get(guid=ids["themes"]).codable is False
    controls = Code.objects.filter(programme=programme, name="Control").order_by("guid")
    assert sorted(c.guid for c in controls) == sorted(ids["control"])
    assert Code.objects.get(guid=ids["control"][0]).description == "Feeling in control"
    assert Code.objects.get(guid=ids["control"][1]).parent.guid == ids["chain"][2]

    # The source's text as the .txt has it (the .docx copy is not read when the plain text is there).
    source = Source.objects.get(programme=programme)
    assert (source.title, source.full_text, source.qda_guid, source.kind.slug) == (
        "Interview 1", TEXT, ids["source"], "interview-transcript")
    first = EvidenceExcerpt.objects.get(qda_guid=ids["first"])
    assert (first.text, first.source_id, first.kind) == ("I feel more in control of my own care now.", source.pk,
                                                       "participant_quote")
    assert (first.start, first.end) == span(TEXT, first.text)

    # Every coding keeps its coder (inactive accounts) and its date.
    codings = {(c.code.guid, c.coder.get_full_name(), c.created) for c in Coding.objects.filter(excerpt=first)}
    stamp = datetime(2023, 2, 3, 4, 5, 6, tzinfo=timezone.utc)
    assert codings == {(ids["control"][0], "Ann Coder", stamp), (ids["chain"][6], "Ann Coder", stamp),
                       (ids["chain"][0], "Bob Second", stamp)}
    ann = Coding.objects.filter(excerpt=first, code__guid=ids["control"][0]).get().coder
    assert (ann.username, ann.is_active, ann.has_usable_password()) == ("ann.coder", False, False)

    # The unnamed sources/.root is reported, not read; the .docx named by richTextPath is not reported.
    assert "1 file in the archive that the project does not name, ignored: sources/.root" in report.notes
    assert report.entries[0].where.startswith("project.qde line ")


def test_nvivo_reimport_updates_rather_than_duplicates(programme):
    project, ids = nvivo_project()
    data = project.qdpx()
    assert run(programme, data).written
    before = counts(programme)
    code = Code.objects.get(guid=ids["chain"][3])
    code.name = "Renamed here"
    code.save()
    report = run(programme, data)
    assert report.ok and report.written, list(report.lines())
    assert counts(programme) == before
    assert [a for (a, _) in report.counts()] == ["updated"] * len(report.counts())
    assert dict((kind, n) for (_, kind), n in report.counts().items()) == {
        "code": 10, "source": 1, "evidence excerpt": 2, "coding": 4}
    assert Code.objects.get(guid=ids["chain"][3]).name == "Level 4"
    assert "Level 4 [" + ids["chain"][3] + "]" in [e.label for e in report.entries]
    assert get_user_count("ann.coder") == 1


def get_user_count(username):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(username__startswith=username).count()


def test_history_records_the_importing_user_and_file(programme, evaluator):
    from tests.conftest import join

    join(evaluator, programme, "evaluator")
    project, ids = nvivo_project()
    assert run(programme, project.qdpx(), name="nvivo.qdpx", user=evaluator).written
    for model in (Code, EvidenceExcerpt, Coding, Source):
        record = model.history.filter(history_type="+").first()
        assert (record.history_user.username, record.history_change_reason) == ("eva", "import: nvivo.qdpx")


def test_a_user_who_does_not_write_in_the_programme_is_refused(programme, evaluator):
    from projects.membership import ProgrammeWriteRefused

    project, _ = nvivo_project()
    with pytest.raises(ProgrammeWriteRefused):
        run(programme, project.qdpx(), user=evaluator)  # eva writes in ctg, not here
    assert counts(programme) == NOTHING


def test_existing_users_are_matched_by_name(programme, django_user_model):
    existing = django_user_model.objects.create_user(username="ann.coder", first_name="Ann", last_name="Coder")
    project, ids = nvivo_project()
    assert run(programme, project.qdpx()).written
    first = EvidenceExcerpt.objects.get(qda_guid=ids["first"])
    assert Coding.objects.get(excerpt=first, code__guid=ids["control"][0]).coder == existing
    assert django_user_model.objects.filter(first_name="Ann").count() == 1


# --- ATLAS.ti --------------------------------------------------------------------------------------


def test_atlas_codebook_only_project_with_braced_upper_case_guids(programme):
    project = QdaProject("braces", origin="ATLAS.ti 23")
    project.user("Ann Coder")
    group = project.code("Barriers", codable=False, color="#C62828")
    fear = project.code("Fear of job losses", parent=group)
    trust = project.code("Trust", parent=group)
    project.link(fear, trust, name="undermines", direction="OneWay", color="#000000")
    project.note("Memo on fear", "Staff and patients alike.", on=[fear])
    project.set("Key codes", codes=[fear, trust])
    report = run(programme, project.qdpx(codebook_only=True))
    assert report.ok and report.written, list(report.lines())
    assert counts(programme) == {**NOTHING, "codes": 3, "memos": 1, "relations": 1}
    normalised = fear.strip("{}").lower()
    code = Code.objects.get(programme=programme, guid=normalised)
    assert (code.name, code.parent.name, code.parent.codable, code.parent.colour) == (
        "Fear of job losses", "Barriers", False, "#C62828")
    relation = Relation.objects.get(programme=programme)
    assert (relation.name, relation.direction, relation.origin_code, relation.target_code.name) == (
        "undermines", "OneWay", code, "Trust")
    memo = Memo.objects.get(programme=programme)
    assert (memo.name, memo.text, list(memo.codes.all())) == ("Memo on fear", "Staff and patients alike.", [code])
    assert "The project has no sources: only its codes (and what refers to them) came in" in report.notes
    assert "1 set (2 members) not imported: the knowledge base has no sets (Key codes)" in report.notes


def test_qdc_codebook(programme):
    project = QdaProject("upper")
    top = project.code("Context", codable=False)
    project.code("Leadership", parent=top, color="#00FF00", description="Who leads.")
    project.set("All", codes=[top])
    report = run(programme, project.qdc(), name="codebook.qdc")
    assert report.ok and report.written, list(report.lines())
    leadership = Code.objects.get(programme=programme, name="Leadership")
    assert (leadership.parent.name, leadership.colour, leadership.description, leadership.guid) == (
        "Context", "#00FF00", "Who leads.", project.codes[1]["guid"].lower())
    # Line 1 the XML declaration, 2 <CodeBook>, 3 <Codes>, 4 the first code; the GUID as written.
    assert report.entries[0].where == "codebook.qdc line 4 <Code guid=" + top + ">"
    assert any(note.startswith("A codebook (codebook.qdc): 2 codes") for note in report.notes)


# --- MAXQDA, QualCoder, Taguette ------------------------------------------------------------------------


def test_maxqda_internal_paths_upper_case_guids_crlf_and_bom(programme):
    """MAXQDA: internal://<GUID>.txt in upper case. The text is stored as read: \\r\\n stays two
    characters (positions count them), and a leading BOM is no character of the text."""
    text = TEXT.replace("\n", "\r\n")
    project = QdaProject("upper", origin="MAXQDA 2022")
    user = project.user("MAX USER")
    code = project.code("Control")
    source = project.source("Interview 2", text, where="internal", bom=True)
    selection = project.selection(source, *span(text, "I feel more in control"), codes=[code], user=user)
    report = run(programme, project.qdpx())
    assert report.ok, list(report.lines())
    stored = Source.objects.get(programme=programme)
    assert stored.full_text == text and not stored.full_text.startswith("\ufeff")
    excerpt = EvidenceExcerpt.objects.get(source=stored)
    assert (excerpt.text, excerpt.qda_guid) == ("I feel more in control", selection.lower())
    assert Coding.objects.get(excerpt=excerpt).code.guid == code.lower()


def test_qualcoder_internal_paths_under_capital_sources_folder(programme):
    """QualCoder names internal://<guid>.txt and keeps the file under Sources/ (capital S)."""
    project = QdaProject("lower", origin="QualCoder 3.5")
    user = project.user("qc")
    code = project.code("Control")
    source = project.source("Interview 3", TEXT, where="internal")
    project.selection(source, *span(TEXT, "our jobs"), codes=[code], user=user)
    data = project.qdpx()
    # Move sources/ to Sources/ as QualCoder writes it.
    moved = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as old, zipfile.ZipFile(moved, "w") as new:
        for info in old.infolist():
            new.writestr(info.filename.replace("sources/", "Sources/"), old.read(info))
    report = run(programme, moved.getvalue())
    assert report.ok, list(report.lines())
    assert EvidenceExcerpt.objects.get(source__programme=programme).text == "our jobs"


def test_taguette_inline_text_and_bare_paths(programme):
    """Inline <PlainTextContent> (Taguette writes the text in the project) and a bare file name as
    plainTextPath, the file under sources/."""
    project = QdaProject("lower", origin="Taguette")
    user = project.user("admin")
    code = project.code("highlight")
    inline = project.source("Inline doc", "Short inline text with a quote.", where="inline")
    bare = project.source("bare-doc", TEXT, where="bare")
    project.selection(inline, 6, 17, codes=[code], user=user)
    project.selection(bare, *span(TEXT, "Nurse"), codes=[code], user=user)
    report = run(programme, project.qdpx())
    assert report.ok, list(report.lines())
    assert sorted(EvidenceExcerpt.objects.values_list("text", flat=True)) == ["Nurse", "inline text"]
    assert Source.objects.get(title="Inline doc").full_text == "Short inline text with a quote."


def test_a_source_with_only_a_docx_is_extracted(programme):
    project = QdaProject("lower", origin="NVivo 12")
    user = project.user("Ann")
    code = project.code("Control")
    paragraphs = "First paragraph here.\n\nSecond paragraph with the quote."
    source = project.source("Docx only", paragraphs, where="docx")
    project.selection(source, *span(paragraphs, "the quote"), codes=[code], user=user)
    report = run(programme, project.qdpx())
    assert report.ok, list(report.lines())
    stored = Source.objects.get(programme=programme)
    assert stored.full_text == paragraphs  # python-docx paragraphs joined by a blank line, as documents.py reads them
    assert stored.extractor == "REFI-QDA project (rich text)"
    assert EvidenceExcerpt.objects.get(source=stored).text == "the quote"


def test_sources_with_empty_text_and_non_text_sources_are_reported(programme):
    project = QdaProject("lower")
    project.user("Ann")
    project.source("Empty one", "", where="internal")
    project.picture("A photo")
    report = run(programme, project.qdpx())
    assert report.ok and report.written, list(report.lines())
    assert counts(programme) == NOTHING
    assert any("the source 'Empty one' has an empty text: not imported" in note for note in report.notes)
    assert "1 PictureSource (0 selections) not imported: the knowledge base holds text sources only" in report.notes


# --- Cases, variables, notes, links, duplicates ----------------------------------------------------------


def test_cases_become_teams_and_set_their_excerpts_team(programme):
    existing = Team.objects.create(programme=programme, slug="pathway-qda", name="Pathway", short_name="Pathway")
    project = QdaProject("lower")
    user = project.user("Ann")
    code = project.code("Control")
    short = project.variable("Short name")
    organisation = project.variable("Organisation")
    age = project.variable("Age", "Integer")
    source = project.source("Interview", TEXT)
    quote = project.selection(source, *span(TEXT, "I feel more in control"), codes=[code], user=user)
    other = project.selection(source, *span(TEXT, "our jobs"), codes=[code], user=user)
    project.case("Shared Haemodialysis Care", selections=[quote],
                 variables=[(short, "SHC"), (organisation, "Sheffield Teaching Hospitals"), (age, "42", "Integer")],
                 description="Patients on dialysis take on their own care.")
    project.case("Pathway", selections=[other])
    report = run(programme, project.qdpx())
    assert report.ok, list(report.lines())
    shc = Team.objects.get(programme=programme, short_name="SHC")
    assert (shc.name, shc.organisation, shc.objective, shc.qda_guid, shc.slug) == (
        "Shared Haemodialysis Care", "Sheffield Teaching Hospitals", "Patients on dialysis take on their own care.",
        project.cases[0]["guid"], "shared-haemodialysis-care")
    assert EvidenceExcerpt.objects.get(qda_guid=quote).team == shc
    existing.refresh_from_db()
    assert existing.qda_guid == project.cases[1]["guid"]
    assert EvidenceExcerpt.objects.get(qda_guid=other).team == existing
    assert Team.objects.filter(programme=programme).count() == 2
    assert "1 value of the variable 'Age' not imported: no field holds it" in report.notes


def test_notes_links_and_source_variables(programme, kb):
    project = QdaProject("lower")
    user = project.user("Ann")
    code = project.code("Control")
    kind = project.variable("Source kind")
    published = project.variable("Date", "Date")
    authors = project.variable("Authors")
    source = project.source("Report", TEXT, variables=[(kind, "Evaluation report"), (published, "2014-06-01", "Date"),
                                                         (authors, "OPM")])
    quote = project.selection(source, *span(TEXT, "I feel more in control"), codes=[code], user=user)
    note = project.note("Why it matters", "Control is the point.", on=[quote, source, code])
    project.link(quote, code, name="illustrates", direction="Associative")
    project.link(source, code, name="to a source")  # no place: a relation joins codes and excerpts
    report = run(programme, project.qdpx())
    assert report.ok, list(report.lines())
    stored = Source.objects.get(programme=programme)
    assert (stored.kind.slug, stored.date.isoformat(), stored.authors) == ("evaluation-report", "2014-06-01", "OPM")
    memo = Memo.objects.get(guid=note)
    excerpt = EvidenceExcerpt.objects.get(qda_guid=quote)
    assert (list(memo.excerpts.all()), list(memo.sources.all()), [c.guid for c in memo.codes.all()]) == (
        [excerpt], [stored], [code])
    relation = Relation.objects.get(programme=programme)
    assert (relation.origin_excerpt, relation.target_code.guid, relation.direction) == (excerpt, code, "Associative")
    assert any("a link 'to a source' whose ends are not both codes or selections" in n for n in report.notes)


def test_two_selections_with_one_span_are_one_excerpt(programme):
    project = QdaProject("lower")
    ann, bob = project.user("Ann"), project.user("Bob")
    code, other = project.code("Control"), project.code("Other")
    source = project.source("Interview", TEXT)
    where = span(TEXT, "our jobs")
    project.selection(source, *where, codes=[code], user=ann)
    project.selection(source, *where, codes=[code, other], user=bob)
    project.selection(source, *where, codes=[code], user=ann)  # the same coding again
    report = run(programme, project.qdpx())
    assert report.ok, list(report.lines())
    excerpt = EvidenceExcerpt.objects.get(source__programme=programme)
    assert sorted((c.code.name, c.coder.username) for c in excerpt.codings.all()) == [
        ("Control", "ann"), ("Control", "bob"), ("Other", "bob")]
    assert "2 selections with the same span as another in their source became one excerpt with it" in report.notes
    assert any("repeated a coding of the same excerpt" in n for n in report.notes)


# --- Characters outside the BMP ------------------------------------------------------------------------------

ASTRAL = "Emoji 😀 first, then 𝔘nicode 𝔘 letters, then the quote we want."


def astral_project(start, end):
    project = QdaProject("lower")
    user = project.user("Ann")
    code = project.code("Quote")
    source = project.source("Astral", ASTRAL)
    project.selection(source, start, end, codes=[code], user=user)
    return project


def test_code_point_positions_with_characters_outside_the_bmp(programme):
    start, end = span(ASTRAL, "the quote we want")
    report = run(programme, astral_project(start, end).qdpx())
    assert report.ok, list(report.lines())
    assert EvidenceExcerpt.objects.get(source__programme=programme).text == "the quote we want"


def test_utf16_positions_are_converted_with_the_option(programme):
    start, end = span(ASTRAL, "the quote we want")
    units = lambda n: len(ASTRAL[:n].encode("utf-16-le")) // 2  # noqa: E731
    assert (units(start), units(end)) == (start + 3, end + 3)  # three characters outside the BMP before it
    report = run(programme, astral_project(units(start), units(end)).qdpx(), offsets="utf16")
    assert report.ok, list(report.lines())
    excerpt = EvidenceExcerpt.objects.get(source__programme=programme)
    assert (excerpt.text, excerpt.start, excerpt.end) == ("the quote we want", start, end)


def test_utf16_positions_without_the_option_are_refused_with_a_hint(programme):
    start, end = span(ASTRAL, "we want.")
    report = run(programme, astral_project(start + 3, end + 3).qdpx())
    assert not report.written and counts(programme) == NOTHING
    [problem] = report.errors
    assert (problem.field, problem.value) == ("endPosition", str(end + 3))
    assert problem.where.startswith("project.qde line ") and "<PlainTextSelection guid=" in problem.where
    assert f"past the end of the text of 'Astral' ({len(ASTRAL)} characters)" in problem.reason
    assert "--offsets utf16" in problem.reason


def test_utf16_position_inside_a_surrogate_pair_is_refused(programme):
    emoji = ASTRAL.index("😀")
    report = run(programme, astral_project(emoji + 1, emoji + 5).qdpx(), offsets="utf16")
    assert counts(programme) == NOTHING
    assert [(p.field, p.reason) for p in report.errors] == [
        ("startPosition", "falls between the two UTF-16 units of one character outside the Basic Multilingual Plane")]


# --- Refusals: nothing written, the element named ------------------------------------------------------------------


def test_corrupt_zip_is_refused(programme):
    report = run(programme, b"PK\x03\x04 this is no archive")
    assert (report.written, counts(programme)) == (False, NOTHING)
    [problem] = report.errors
    assert (problem.where, problem.field) == ("project.qdpx", "file")
    assert "damaged ZIP" in problem.reason


def test_archive_without_project_qde_is_refused(programme):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("sources/a.txt", "text")
    report = run(programme, buffer.getvalue())
    [problem] = report.errors
    assert (problem.field, problem.value) == ("file", "sources/a.txt")
    assert "no project.qde in the archive" in problem.reason


def test_malformed_xml_names_the_line(programme):
    project, _ = nvivo_project()
    qde = project.qde().decode("utf-8").splitlines()
    qde.insert(11, "</Nope>")  # line 12: a closing tag that closes nothing open
    report = run(programme, project.qdpx(qde="\n".join(qde).encode("utf-8")))
    assert counts(programme) == NOTHING
    [problem] = report.errors
    assert (problem.where, problem.field) == ("project.qde line 12", "XML")
    assert problem.reason.startswith("not well-formed XML at column ")


def test_entity_declarations_are_refused(programme):
    bomb = (b'<?xml version="1.0"?>\n<!DOCTYPE CodeBook [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>\n'
            b'<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes><Code guid="x" name="&b;" isCodable="true"/></Codes></CodeBook>')
    report = run(programme, bomb, name="bomb.qdc")
    [problem] = report.errors
    assert (problem.where, problem.field) == ("bomb.qdc line 2", "DOCTYPE")
    assert counts(programme) == NOTHING


def test_selection_past_the_end_and_unknown_code_are_every_error(programme):
    project = QdaProject("lower")
    user = project.user("Ann")
    code = project.code("Control")
    source = project.source("Interview", TEXT)
    project.selection(source, 0, 5, codes=[code], user=user)
    bad = project.selection(source, 10, len(TEXT) + 7, codes=[code], user=user)
    unknown = "0f0f0f0f-0000-4000-8000-000000000000"
    project.selection(source, 0, 9, codes=[unknown], user=user)
    report = run(programme, project.qdpx())
    assert (report.written, counts(programme)) == (False, NOTHING)
    assert [(p.field, p.value) for p in report.errors] == [
        ("CodeRef targetGUID", unknown), ("endPosition", str(len(TEXT) + 7))]
    coding_error, span_error = report.errors
    assert "<Coding guid=" in coding_error.where and coding_error.reason == "no code of the project has this GUID"
    assert f"<PlainTextSelection guid={bad}>" in span_error.where
    line = int(span_error.where.split(" line ")[1].split()[0])
    assert f'guid="{bad}"' in project.qde().decode("utf-8").splitlines()[line - 1]


def test_text_file_missing_from_the_archive_is_refused(programme):
    project = QdaProject("lower")
    user = project.user("Ann")
    source = project.source("Gone", TEXT)
    project.selection(source, 0, 5, user=user)
    data = project.qdpx()
    stripped = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as old, zipfile.ZipFile(stripped, "w") as new:
        new.writestr("project.qde", old.read("project.qde"))
    report = run(programme, stripped.getvalue())
    [problem] = report.errors
    assert (problem.field, problem.value, problem.reason) == (
        "plainTextPath", f"internal://{source}.txt", "the archive holds no such file")
    assert f"<TextSource guid={source}>" in problem.where


def test_dry_run_writes_nothing_and_reports_what_would_be(programme):
    project, _ = nvivo_project()
    report = run(programme, project.qdpx(), dry_run=True)
    assert (report.ok, report.written, report.dry_run) == (True, False, True)
    assert counts(programme) == NOTHING
    assert dict((kind, n) for (_, kind), n in report.counts().items()) == {
        "user": 2, "code": 10, "source kind": 1, "source": 1, "evidence excerpt": 2, "coding": 4}


# --- The command ----------------------------------------------------------------------------------------------


def test_command_imports_and_refuses(programme, tmp_path):
    project, _ = nvivo_project()
    path = tmp_path / "nvivo.qdpx"
    path.write_bytes(project.qdpx())
    out = io.StringIO()
    call_command("import_refi_qda", str(path), "--programme", "qda-study", "--dry-run", stdout=out)
    assert out.getvalue().startswith("nvivo.qdpx: Dry run: nothing was written. 2 user created, 10 code created")
    assert counts(programme) == NOTHING
    call_command("import_refi_qda", str(path), "--programme", "qda-study", stdout=io.StringIO())
    assert counts(programme)["excerpts"] == 2
    bad = tmp_path / "bad.qdpx"
    bad.write_bytes(b"not a zip")
    with pytest.raises(CommandError, match="bad.qdpx: Refused: nothing was written"):
        call_command("import_refi_qda", str(bad), "--programme", "qda-study")
    with pytest.raises(CommandError, match="No programme 'nope'"):
        call_command("import_refi_qda", str(path), "--programme", "nope")
    start, end = span(ASTRAL, "we want.")
    astral = tmp_path / "astral.qdpx"
    astral.write_bytes(astral_project(start + 3, end + 3).qdpx())
    with pytest.raises(CommandError, match="--offsets utf16"):
        call_command("import_refi_qda", str(astral), "--programme", "qda-study")
    call_command("import_refi_qda", str(astral), "--programme", "qda-study", "--offsets", "utf16", stdout=io.StringIO())
    assert EvidenceExcerpt.objects.filter(text="we want.").count() == 1


# --- Size: queries do not grow with the rows --------------------------------------------------------------------


def big_project(n):
    project = QdaProject("lower", seed=f"big-{n}")
    users = [project.user(f"User {i} of {n}") for i in range(3)]
    codes = [project.code(f"Code {i}") for i in range(4)]
    sentences = [f"Sentence number {i} says something. " for i in range(n)]
    text = "".join(sentences)
    source = project.source(f"Long interview {n}", text)
    position = 0
    for i, sentence in enumerate(sentences):
        project.selection(source, position, position + len(sentence) - 1, codes=[codes[i % 4], codes[(i + 1) % 4]],
                          user=users[i % 3])
        position += len(sentence)
    project.case(f"Team {n}", selections=[s["guid"] for s in project.sources[0]["selections"]])
    return project.qdpx()


def test_queries_do_not_grow_with_the_number_of_selections(programme):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from evidence.models import SourceKind

    SourceKind.objects.create(slug="interview-transcript", name="Interview transcript")
    small, large = big_project(20), big_project(200)
    with CaptureQueriesContext(connection) as first:
        assert run(programme, small).written
    other = Programme.objects.create(slug="qda-other", name="Other")
    with CaptureQueriesContext(connection) as second:
        report = run(other, large)
    assert report.written and counts(other)["excerpts"] == 200 and counts(other)["codings"] == 400
    # Per kind of row: a few look-ups, one query per foreign key and unique key a batch, then the rows
    # and their history (PostgreSQL: one COPY each; SQLite: INSERTs of at most 999 parameters, so a few
    # more as rows grow); the users (3 in both) are saved one by one. 180 more excerpts and 360 more
    # codings cost no more queries on PostgreSQL and a handful on SQLite, not one a row.
    extra = len(second.captured_queries) - len(first.captured_queries)
    if connection.vendor == "postgresql":
        assert extra == 0, [q["sql"][:100] for q in second.captured_queries]
    else:
        assert 0 <= extra <= 16
    assert len(second.captured_queries) < 90


def test_selections_of_unknown_users_and_cases_of_missing_selections_are_reported(programme):
    project = QdaProject("lower")
    code = project.code("Control")
    source = project.source("Interview", TEXT)
    stranger = "11111111-2222-4333-8444-555555555555"
    project.selection(source, 0, 11, codes=[code], user=stranger)
    project.case("Team", selections=["99999999-2222-4333-8444-555555555555"])
    report = run(programme, project.qdpx())
    assert report.ok and report.written, list(report.lines())
    coding = Coding.objects.get(code__programme=programme)
    assert (coding.coder, coding.excerpt.text) == (None, "Interviewer")
    assert (f"1 selection name a creatingUser the project's <Users> lack ({stranger}): their codings have no coder"
            in report.notes)
    assert ("1 case reference to selections that are no excerpt here (of a non-text or empty source, or unknown): "
            "no team set by them") in report.notes


def test_a_damaged_entry_is_refused_naming_it(programme):
    project, _ = nvivo_project()
    data = bytearray(project.qdpx())
    # Flip a byte inside project.qde's compressed data: its checksum no longer matches when read.
    header = data.index(b"project.qde") + len("project.qde")
    data[header + 40] ^= 0xFF
    report = run(programme, bytes(data))
    assert counts(programme) == NOTHING
    [problem] = report.errors
    assert (problem.where, problem.field, problem.value) == ("project.qdpx", "file", "project.qde")
    assert problem.reason.startswith("a damaged ZIP archive: project.qde cannot be unpacked")


def test_a_coding_of_a_group_code_is_refused_naming_the_coding(programme):
    project = QdaProject("lower")
    user = project.user("Ann")
    group = project.code("Group", codable=False)
    source = project.source("Interview", TEXT)
    project.selection(source, 0, 11, codes=[group], user=user)
    report = run(programme, project.qdpx())
    assert counts(programme) == NOTHING
    [problem] = report.errors
    assert "<Coding guid=" in problem.where and problem.field == "code"
    assert problem.reason == "Code 'Group' is not codable (a group code)."


def test_progress_is_reported_every_few_hundred_selections(programme, monkeypatch):
    from evidence.import_report import ImportReport

    seen = []
    monkeypatch.setattr(ImportReport, "progress", lambda self, done, total, label="": seen.append((done, total, label)))
    assert run(programme, big_project(1100)).written
    assert seen == [(500, 1100, "selections"), (1000, 1100, "selections"), (1100, 1100, "selections")]


def test_a_utf16_text_file_with_its_bom_is_read(programme):
    project = QdaProject("lower")
    user = project.user("Ann")
    code = project.code("Control")
    source = project.source("Windows file", ASTRAL)
    start, end = span(ASTRAL, "𝔘nicode")
    project.selection(source, start, end, codes=[code], user=user)
    data = project.qdpx()
    rewritten = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as old, zipfile.ZipFile(rewritten, "w") as new:
        for info in old.infolist():
            content = old.read(info)
            new.writestr(info.filename, ASTRAL.encode("utf-16") if info.filename.endswith(".txt") else content)
    report = run(programme, rewritten.getvalue())
    assert report.ok, list(report.lines())
    assert Source.objects.get(programme=programme).full_text == ASTRAL
    assert EvidenceExcerpt.objects.get(source__programme=programme).text == "𝔘nicode"


def test_a_reimport_moves_a_code_to_its_new_parent(programme):
    first = QdaProject("lower", seed="move")
    a = first.code("A")
    b = first.code("B")
    child = first.code("Child", parent=a)
    assert run(programme, first.qdc(), name="v1.qdc").written
    second = QdaProject("lower", seed="other")
    second.code("A", guid=a)
    second.code("B", guid=b)
    second.code("Child renamed", parent=b, guid=child)
    second.code("New under child", parent=child)
    report = run(programme, second.qdc(), name="v2.qdc")
    assert report.ok, list(report.lines())
    moved = Code.objects.get(programme=programme, guid=child)
    assert (moved.name, moved.parent.guid) == ("Child renamed", b)
    assert Code.objects.get(programme=programme, name="New under child").parent == moved
    assert [(e.action, e.label) for e in report.entries] == [  # in the file's order
        ("updated", f"A [{a}] (unchanged)"), ("updated", f"B [{b}] (unchanged)"), ("updated", f"Child renamed [{child}]"),
        ("created", f"New under child [{second.codes[3]['guid']}]")]


def test_a_qda_import_run_is_undone_in_one_step(programme, evaluator, tmp_path):
    """Through the command (a recorded run, evidence/import_command.py), then undo_import: every code,
    source, excerpt, coding and memo the project brought is gone, and the users it made stay inert."""
    from tests.conftest import join
    from evidence.import_runs import ImportRun

    join(evaluator, programme, "evaluator")
    project, ids = nvivo_project()
    path = tmp_path / "project.qdpx"
    path.write_bytes(project.qdpx())
    call_command("import_refi_qda", str(path), "--programme", programme.slug, "--user", evaluator.username,
                 stdout=io.StringIO())
    assert counts(programme) == {**NOTHING, "codes": 10, "sources": 1, "excerpts": 2, "codings": 4}
    run = ImportRun.objects.get(kind="refi-qda")
    assert Code.objects.get(guid=ids["chain"][0]).history.latest().history_change_reason == f"import #{run.pk}: project.qdpx"
    call_command("undo_import", str(run.pk), stdout=io.StringIO())
    assert counts(programme) == NOTHING
    run.refresh_from_db()
    assert run.status == "undone"
