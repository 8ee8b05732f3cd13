"""The REFI-QDA export of a programme's own codes, codings, memos and relations (evidence/codes.py) and
of the GUIDs sources, selections and cases were imported with (qda_guid): what an imported project
brings, exported again as it came in (issue 12)."""

import io
from datetime import datetime, timezone
from xml.etree import ElementTree as ET

import pytest

from evidence import refi_qda

from .conftest import C, P
from .qde_compare import canonical

TRUST = "a1b2c3d4-0000-4000-8000-000000000001"
RESPECT = "a1b2c3d4-0000-4000-8000-000000000002"
THEMES = "a1b2c3d4-0000-4000-8000-000000000003"
SOURCE = "b1b2c3d4-0000-4000-8000-000000000001"
SELECTION = "b1b2c3d4-0000-4000-8000-000000000002"
CASE = "b1b2c3d4-0000-4000-8000-000000000003"
CODING = "c1b2c3d4-0000-4000-8000-000000000001"
KIND_CODING = "c1b2c3d4-0000-4000-8000-000000000002"
MEMO = "d1b2c3d4-0000-4000-8000-000000000001"
RELATION = "e1b2c3d4-0000-4000-8000-000000000001"
WHEN = datetime(2024, 3, 5, 14, 30, tzinfo=timezone.utc)
EXCERPT_KINDS = refi_qda.guid("code", "group", "excerpt-kinds")
QUOTE_KIND = refi_qda.guid("code", "excerpt-kind", "participant_quote")


@pytest.fixture
def coded(kb, evaluator, django_user_model):
    """kb plus what an import brings: a thematic code tree (Themes > Respect, Trust), a Code row with
    the GUID of our own "Excerpt kinds" group (renamed) and one of its kind codes, codings by a coder,
    a memo about Trust, q-control and the source, a memo with the GUID of shc-control's statement note,
    a relation from Trust to q-jobs and one with the GUID of q-control's evidence link; imported GUIDs on
    the source, the SHC team and q-jobs. And another programme with its own rows, never exported with
    ctg's."""
    from evidence.models import Code, Coding, Memo, Relation

    kb.coder = django_user_model.objects.create(username="cora", first_name="Cora", last_name="Coder", is_active=False)
    themes = Code.objects.create(programme=kb.programme, guid=THEMES, name="Themes", codable=False, order=0)
    kb.trust = Code.objects.create(programme=kb.programme, parent=themes, guid=TRUST, name="Trust",
                                   description="Patients trust staff.", colour="#aa5500", order=1)
    Code.objects.create(programme=kb.programme, parent=themes, guid=RESPECT, name="Respect", order=0)
    kinds = Code.objects.create(programme=kb.programme, guid=EXCERPT_KINDS, name="Kinds of excerpt", codable=False, order=1)
    kb.quote_kind = Code.objects.create(programme=kb.programme, parent=kinds, guid=QUOTE_KIND, name="Participant quote")
    Coding.objects.create(excerpt=kb.q_control, code=kb.trust, coder=kb.coder, guid=CODING, created=WHEN)
    Coding.objects.create(excerpt=kb.q_control, code=kb.quote_kind, coder=kb.coder, guid=KIND_CODING, created=WHEN)
    memo = Memo.objects.create(programme=kb.programme, guid=MEMO, name="Why trust", text="Because they listen.",
                               created_by=evaluator)
    memo.codes.set([kb.trust])
    memo.excerpts.set([kb.q_control])
    memo.sources.set([kb.source])
    Memo.objects.create(programme=kb.programme, guid=refi_qda.statement_note_guid("shc-control"),
                        name="Statement: Shc control", text="As imported.")
    Relation.objects.create(programme=kb.programme, guid=RELATION, name="undermined by", direction="OneWay",
                            colour="#00ff00", origin_code=kb.trust, target_excerpt=kb.q_jobs, updated_by=kb.coder)
    Relation.objects.create(programme=kb.programme, guid=refi_qda.guid("link", "q-control", "shc-control", "outcome"),
                            name="supports (outcome), as imported", direction="OneWay", origin_excerpt=kb.q_control,
                            target_code=kb.trust)
    kb.source.qda_guid = SOURCE.upper()  # stored as read: written normalised
    kb.source.save()
    kb.shc.qda_guid = CASE
    kb.shc.save()
    kb.q_jobs.qda_guid = SELECTION
    kb.q_jobs.save()
    _other_programme(kb, django_user_model)
    return kb


def _other_programme(kb, django_user_model):
    from evidence.models import Code, Coding, EvidenceExcerpt, Memo, Relation, Source
    from projects.models import Programme

    other = Programme.objects.create(slug="other", name="Other programme")
    source = Source.objects.create(programme=other, slug="other-report", kind=kb.report, title="Other report",
                                   full_text="Nothing to see here.", qda_guid=SOURCE)
    excerpt = EvidenceExcerpt.objects.create(slug="other-q", source=source, text="Nothing", start=0, end=7)
    code = Code.objects.create(programme=other, guid=TRUST, name="Other trust")
    Coding.objects.create(excerpt=excerpt, code=code,
                          coder=django_user_model.objects.create(username="other-coder", is_active=False))
    Memo.objects.create(programme=other, name="Other memo", text="Elsewhere.").codes.set([code])
    Relation.objects.create(programme=other, name="other relation", origin_code=code, target_excerpt=excerpt)
    # A relation of ctg's reaching into the other programme: left out of an export of ctg alone.
    Relation.objects.create(programme=kb.programme, name="reaches out", origin_code=kb.trust, target_excerpt=excerpt)
    kb.other = other


def ctg_only():
    from projects.models import Programme

    return Programme.objects.filter(slug="ctg")


def export(**options):
    return refi_qda.export_qdpx(programmes=ctg_only(), **options)


def top_names(codes_element, ns=P):
    return [code.get("name") for code in codes_element.findall(ns + "Code")]


def test_code_rows_join_the_derived_tree_and_win_over_a_derived_code_with_their_guid(coded, open_qdpx):
    qdpx = open_qdpx(export())
    codes = qdpx.root.find(P + "CodeBook").find(P + "Codes")
    # Derived codes no row has, in the derived order; then the Code rows, by order: the row with the
    # "Excerpt kinds" GUID moved there, renamed.
    assert top_names(codes) == ["Enabling mechanisms", "Wish dimensions", "Quality domains", "Outcome kinds",
                                "Contexts", "CMO parts", "Speaker roles", "Themes", "Kinds of excerpt"]
    by_guid = qdpx.codes()
    themes = by_guid[THEMES]
    assert [(c.get("guid"), c.get("name")) for c in themes.findall(P + "Code")] == [(RESPECT, "Respect"), (TRUST, "Trust")]
    assert (themes.get("isCodable"), themes.get("color"), themes.find(P + "Description")) == ("false", None, None)
    trust = by_guid[TRUST]
    assert (trust.get("isCodable"), trust.get("color"), trust.find(P + "Description").text) == (
        "true", "#aa5500", "Patients trust staff.")
    assert [ref.get("targetGUID") for ref in trust.findall(P + "NoteRef")] == [MEMO]
    # The group's derived children follow it (the row for one of them wins for it, after the others).
    kinds = by_guid[EXCERPT_KINDS]
    assert kinds.get("isCodable") == "false"
    assert [c.get("name") for c in kinds.findall(P + "Code")] == [
        "Evaluator finding", "Figure", "Quotation from the literature", "Participant quote"]
    assert [c.get("guid") for c in kinds.findall(P + "Code")][-1] == QUOTE_KIND
    assert list(qdpx.all("Code")).count(by_guid[QUOTE_KIND]) == 1
    guids = [code.get("guid") for code in qdpx.all("Code")]
    assert len(guids) == len(set(guids))
    # The other programme's row with Trust's GUID stays out.
    assert "Other trust" not in qdpx.code_names()


def test_codebook_document_has_the_same_merged_tree(coded, open_qdpx, codebook_schema):
    payload = refi_qda.export_codebook(programmes=ctg_only())
    codebook_schema.validate(io.BytesIO(payload))
    root = ET.fromstring(payload)
    project = open_qdpx(export()).root
    assert [(c.get("guid"), c.get("name"), c.get("color")) for c in root.iter(C + "Code")] == [
        (c.get("guid"), c.get("name"), c.get("color")) for c in project.iter(P + "Code")]
    assert top_names(root.find(C + "Codes"), C)[-2:] == ["Themes", "Kinds of excerpt"]


def test_exports_with_imported_rows_validate_and_are_byte_stable(coded, open_qdpx, project_schema):
    from projects.models import Programme

    for programmes in (ctg_only(), Programme.objects.all()):
        payload = refi_qda.export_qdpx(programmes=programmes, include_drafts=True)
        project_schema.validate(io.BytesIO(open_qdpx(payload).qde))
        assert refi_qda.export_qdpx(programmes=programmes, include_drafts=True) == payload


def test_sources_cases_and_selections_keep_the_guid_they_were_imported_with(coded, open_qdpx):
    qdpx = open_qdpx(export())
    [source] = qdpx.all("TextSource")
    assert source.get("guid") == SOURCE
    assert source.get("plainTextPath") == f"internal://{SOURCE}.txt"
    assert qdpx.names == ["project.qde", f"sources/{SOURCE}.txt"]
    assert qdpx.text_of(source) == coded.source.full_text
    cases = {case.get("name"): case for case in qdpx.all("Case")}
    shc = cases["Shared Haemodialysis Care"]
    assert shc.get("guid") == CASE
    assert [ref.get("targetGUID") for ref in shc.findall(P + "SelectionRef")] == [
        refi_qda.selection_guid("q-control"), SELECTION]
    assert cases["Pathway"].get("guid") == refi_qda.guid("case", "team", "pathway")  # no qda_guid: derived
    selections = qdpx.selections()
    assert set(selections) == {refi_qda.selection_guid("q-control"), SELECTION, refi_qda.selection_guid("f-target")}
    link = next(l for l in qdpx.all("Link") if l.get("name") == "supports (mechanism)")
    assert link.get("originGUID") == SELECTION  # the derived link to q-jobs names its imported GUID


def test_two_programmes_with_the_same_imported_source_guid_write_it_once(coded, open_qdpx):
    from projects.models import Programme

    qdpx = open_qdpx(refi_qda.export_qdpx(programmes=Programme.objects.all()))
    guids = [source.get("guid") for source in qdpx.all("TextSource")]
    # "A small report" comes first (by title): it keeps the GUID, the other falls back to its own.
    assert guids == [SOURCE, refi_qda.source_guid("other-report")]
    assert sorted(qdpx.names) == sorted(["project.qde", f"sources/{SOURCE}.txt",
                                         f"sources/{refi_qda.source_guid('other-report')}.txt"])
    # Both programmes' rows with Trust's GUID: one code, the first programme's (Closing the Gap).
    # (A Code row's name is its own: no programme suffix, unlike the derived codes of a programme's terms.)
    assert [c.get("name") for c in qdpx.all("Code") if c.get("guid") == TRUST] == ["Trust"]
    # With both programmes, the relation from ctg's Trust to the other programme's excerpt is whole.
    assert "reaches out" in {l.get("name") for l in qdpx.all("Link")}


def test_codings_carry_coder_and_date_and_replace_the_derived_coding_of_their_code(coded, open_qdpx):
    qdpx = open_qdpx(export())
    selection, _ = qdpx.selections()[refi_qda.selection_guid("q-control")]
    codings = [(c.get("guid"), c.get("creatingUser"), c.get("creationDateTime"), c.find(P + "CodeRef").get("targetGUID"))
               for c in selection.findall(P + "Coding")]
    derived = lambda code: (refi_qda.guid("coding", "q-control", code), None, None, code)  # noqa: E731
    assert codings == [
        derived(refi_qda.configuration_code_guid("shc-control")),
        derived(refi_qda.guid("code", "part", "outcome")),
        derived(refi_qda.term_code_guid("speaker-role", "ctg", "patient")),
        # The excerpt-kind coding is now the Coding row of that code (with its GUID, coder and date).
        (CODING, refi_qda.guid("user", "cora"), "2024-03-05T14:30:00Z", TRUST),
        (KIND_CODING, refi_qda.guid("user", "cora"), "2024-03-05T14:30:00Z", QUOTE_KIND),
    ]
    # Then the memo about it.
    assert [ref.get("targetGUID") for ref in selection.findall(P + "NoteRef")] == [MEMO]
    assert [child.tag.removeprefix(P) for child in selection][-1] == "NoteRef"
    other, _ = qdpx.selections()[SELECTION]
    assert other.find(P + "NoteRef") is None


def test_memos_are_notes_referred_to_from_their_codes_selections_and_sources(coded, open_qdpx):
    qdpx = open_qdpx(export())
    notes = {note.get("guid"): note for note in qdpx.all("Note")}
    memo = notes[MEMO]
    assert (memo.get("name"), memo.find(P + "PlainTextContent").text) == ("Why trust", "Because they listen.")
    assert memo.get("creatingUser") == refi_qda.guid("user", "eva")
    [source] = qdpx.all("TextSource")
    assert [ref.get("targetGUID") for ref in source.findall(P + "NoteRef")] == [MEMO]
    # NoteRefs come after the selections and before the variables, as the schema orders them.
    tags = [child.tag.removeprefix(P) for child in source]
    assert tags == ["Description", "PlainTextSelection", "PlainTextSelection", "PlainTextSelection", "NoteRef",
                    "VariableValue", "VariableValue", "VariableValue"]
    # The memo with the GUID of shc-control's statement note replaces it (written once, as imported);
    # the code still refers to it once.
    statement = notes[refi_qda.statement_note_guid("shc-control")]
    assert statement.find(P + "PlainTextContent").text == "As imported."
    assert [n.get("guid") for n in qdpx.all("Note")].count(refi_qda.statement_note_guid("shc-control")) == 1
    code = qdpx.codes()[refi_qda.configuration_code_guid("shc-control")]
    assert [ref.get("targetGUID") for ref in code.findall(P + "NoteRef")] == [refi_qda.statement_note_guid("shc-control")]
    assert set(notes) == {MEMO, refi_qda.statement_note_guid("shc-control"), refi_qda.statement_note_guid("shc-fear")}


def test_relations_are_links(coded, open_qdpx):
    qdpx = open_qdpx(export())
    links = [(l.get("guid"), l.get("name"), l.get("direction"), l.get("color"), l.get("originGUID"), l.get("targetGUID"))
             for l in qdpx.all("Link")]
    imported_link = refi_qda.guid("link", "q-control", "shc-control", "outcome")
    assert links == [
        (RELATION, "undermined by", "OneWay", "#00ff00", TRUST, SELECTION),
        # The relation with a derived link's GUID replaces it.
        (imported_link, "supports (outcome), as imported", "OneWay", None, refi_qda.selection_guid("q-control"), TRUST),
        (refi_qda.guid("link", "q-jobs", "shc-fear", "mechanism"), "supports (mechanism)", "OneWay", None, SELECTION,
         refi_qda.configuration_code_guid("shc-fear")),
    ]


def test_users_include_coders_and_the_authors_of_memos_and_relations(coded, open_qdpx):
    qdpx = open_qdpx(export())
    users = [(u.get("name"), u.get("id")) for u in qdpx.all("User")]
    assert users == [("Cora Coder", "cora"), ("eva", "eva")]
    every = {element.get(a) for element in qdpx.root.iter() for a in ("creatingUser", "modifyingUser")} - {None}
    assert every <= {u.get("guid") for u in qdpx.all("User")}


def test_another_programmes_codings_memos_and_relations_stay_out(coded, open_qdpx):
    qdpx = open_qdpx(export())
    assert "Other memo" not in {n.get("name") for n in qdpx.all("Note")}
    assert {"other relation", "reaches out"}.isdisjoint({l.get("name") for l in qdpx.all("Link")})
    assert "other-coder" not in {u.get("id") for u in qdpx.all("User")}
    assert b"Other" not in qdpx.qde


def test_canonical_form_reads_the_imported_rows(coded):
    project = canonical(export())
    assert project["codes"][TRUST] == {"name": "Trust", "color": "#AA5500", "codable": True,
                                       "description": "Patients trust staff.", "parent": THEMES, "position": 1}
    codings = project["selections"][refi_qda.selection_guid("q-control")]["codings"]
    assert (TRUST, "Cora Coder") in codings and (QUOTE_KIND, "Cora Coder") in codings
    assert (refi_qda.guid("code", "part", "outcome"), None) in codings and len(codings) == 5
    assert project["cases"][CASE]["selections"] == sorted([refi_qda.selection_guid("q-control"), SELECTION])
    assert project["notes"][MEMO]["refs"] == sorted([
        ("Code", TRUST), ("PlainTextSelection", refi_qda.selection_guid("q-control")), ("TextSource", SOURCE)])
    assert project["links"][RELATION] == {"name": "undermined by", "direction": "OneWay", "color": "#00FF00",
                                          "origin": TRUST, "target": SELECTION}
    assert project["sources"][SOURCE]["text"] == coded.source.full_text


def test_an_independent_reader_reads_the_export_whole(coded, tmp_path):
    from .independent_reader import read_with_pyrefiqda
    from .qde_compare import summary

    payload = export()
    counts, project, texts = read_with_pyrefiqda(payload, tmp_path)
    assert counts == summary(canonical(payload)) == {
        "codes": 38, "sources": 1, "selections": 3, "codings": 10, "cases": 2, "notes": 3, "links": 3}
    [source] = project.sources.text_source
    assert (source.guid, [ref.target_guid for ref in source.note_ref]) == (SOURCE, [MEMO])
    assert texts[SOURCE] == coded.source.full_text
    selection = next(s for s in source.plain_text_selection if s.guid == refi_qda.selection_guid("q-control"))
    assert texts[SOURCE][selection.start_position:selection.end_position] == coded.q_control.text
    imported = [(c.guid, c.code_ref.target_guid, c.creating_user) for c in selection.coding if c.creating_user]
    assert imported == [(CODING, TRUST, refi_qda.guid("user", "cora")), (KIND_CODING, QUOTE_KIND, refi_qda.guid("user", "cora"))]
    themes = next(code for code in project.code_book.codes.code if code.guid == THEMES)
    assert [(code.name, code.is_codable, code.color) for code in themes.code] == [
        ("Respect", True, None), ("Trust", True, "#aa5500")]


def test_codes_in_a_cycle_of_parents_come_out_at_the_top(coded, open_qdpx, project_schema):
    from evidence.models import Code

    # clean() refuses this; an update that skips it does not.
    first = Code.objects.create(programme=coded.programme, name="Loop A", order=5)
    second = Code.objects.create(programme=coded.programme, parent=first, name="Loop B")
    Code.objects.filter(pk=first.pk).update(parent=second)
    qdpx = open_qdpx(export())
    project_schema.validate(io.BytesIO(qdpx.qde))
    codes = qdpx.root.find(P + "CodeBook").find(P + "Codes")
    # The first of them in the rows' order (order, id): Loop B (order 0) is cut from Loop A.
    assert top_names(codes)[-1] == "Loop B"
    assert top_names(codes[-1]) == ["Loop A"]
    assert top_names(qdpx.codes()[first.guid]) == []
