"""The REFI-QDA exporter (evidence/refi_qda/) on the small `kb` fixture: schema validity, the ZIP
layout, the codebook tree, selections that point at exactly the excerpt text, codings, cases,
notes, links, sets, drafts, determinism."""

import io
import re
import zipfile
from xml.etree import ElementTree as ET

import pytest

from evidence import refi_qda

from .conftest import C, P

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
PROJECT_ORDER = ["Users", "CodeBook", "Variables", "Cases", "Sources", "Notes", "Links", "Sets", "Graphs",
                 "Description", "NoteRef"]


def children_names(element, ns=P):
    return [child.get("name") for child in element.findall(ns + "Code")]


def by_name(root, name, ns=P):
    found = [code for code in root.iter(ns + "Code") if code.get("name") == name]
    assert len(found) == 1, (name, len(found))
    return found[0]


def test_project_and_codebook_validate_against_the_vendored_schemas(kb, open_qdpx, project_schema, codebook_schema):
    for include_drafts in (False, True):
        qdpx = open_qdpx(refi_qda.export_qdpx(include_drafts=include_drafts))
        project_schema.validate(io.BytesIO(qdpx.qde))
        codebook_schema.validate(io.BytesIO(refi_qda.export_codebook(include_drafts=include_drafts)))


def test_zip_layout_is_project_qde_and_one_utf8_text_per_source(kb, open_qdpx):
    qdpx = open_qdpx(refi_qda.export_qdpx())
    guid = refi_qda.source_guid("small-report")
    assert qdpx.names == ["project.qde", f"sources/{guid}.txt"]
    assert qdpx.zip.testzip() is None
    # Byte for byte the stored text: UTF-8, no BOM, no newline translation.
    assert qdpx.zip.read(f"sources/{guid}.txt") == kb.source.full_text.encode("utf-8")
    [text_source] = qdpx.all("TextSource")
    assert text_source.get("plainTextPath") == f"internal://{guid}.txt"
    assert text_source.find(P + "PlainTextContent") is None  # path or content, never both
    assert text_source.get("name") == "A small report"
    assert qdpx.qde.startswith(b"<?xml version='1.0' encoding='utf-8'?>\n<Project xmlns=\"urn:QDA-XML:project:1.0\"")


def test_project_children_come_in_schema_order(kb, open_qdpx, evaluator):
    kb.q_control.created_by = evaluator
    kb.q_control.save()
    root = open_qdpx(refi_qda.export_qdpx()).root
    tags = [child.tag.removeprefix(P) for child in root]
    assert tags == ["Users", "CodeBook", "Variables", "Cases", "Sources", "Notes", "Links", "Sets", "Description"]
    assert tags == sorted(tags, key=PROJECT_ORDER.index)
    assert root.get("name") == "CMO KB: Closing the Gap"  # the programmes it holds (short name, or name)
    assert root.get("origin") == "CMO KB"


def test_every_guid_is_8_4_4_4_12_and_unique(kb, open_qdpx):
    root = open_qdpx(refi_qda.export_qdpx(include_drafts=True)).root
    guids = [element.get("guid") for element in root.iter() if element.get("guid")]
    assert len(guids) == len(set(guids)) > 40
    assert all(GUID.match(g) for g in guids), [g for g in guids if not GUID.match(g)]
    referenced = {element.get("targetGUID") for element in root.iter() if element.get("targetGUID")}
    referenced |= {element.get(a) for element in root.iter(P + "Link") for a in ("originGUID", "targetGUID")}
    assert referenced <= set(guids), referenced - set(guids)  # no dangling reference


def test_guids_come_from_natural_keys(kb):
    assert refi_qda.configuration_code_guid("shc-control") == refi_qda.guid("code", "configuration", "shc-control")
    assert refi_qda.guid("code", "configuration", "shc-control") != refi_qda.guid("code", "configuration", "shc-fear")
    # Stable across runs and machines: a fixed namespace.
    assert refi_qda.guid("source", "small-report") == "0c5621a4-c4ca-5e2f-b663-ff90c91923aa"


def test_codebook_tree(kb, open_qdpx):
    root = open_qdpx(refi_qda.export_qdpx()).root
    codes = root.find(P + "CodeBook").find(P + "Codes")
    assert children_names(codes) == [
        "Enabling mechanisms", "Wish dimensions", "Quality domains", "Outcome kinds", "Contexts", "CMO parts",
        "Speaker roles", "Excerpt kinds",
    ]
    groups = {code.get("name"): code for code in codes.findall(P + "Code")}
    assert all(code.get("isCodable") == "false" for code in groups.values())
    mechanisms = groups["Enabling mechanisms"]
    assert children_names(mechanisms) == [
        "Changes to patient beliefs, attitudes and behaviours",
        "Changes to health professional beliefs, attitudes and behaviours",
    ]
    patient = mechanisms.findall(P + "Code")[0]
    assert patient.get("isCodable") == "true"
    # Theme first, then the configuration without a theme; a configuration sits under its theme.
    assert children_names(patient) == ["Targeting", "Shc fear"]
    assert children_names(by_name(root, "Targeting")) == ["Shc control"]
    assert children_names(mechanisms.findall(P + "Code")[1]) == []  # its only configuration is a draft
    assert children_names(groups["Wish dimensions"]) == ["Power", "Valence"]
    assert children_names(by_name(root, "Power")) == ["Dependence", "Agency"]
    assert children_names(by_name(root, "Valence")) == ["Competitive/hostile", "Cooperative/friendly"]
    assert children_names(groups["Quality domains"]) == ["Safety", "Person-centredness"]
    assert children_names(by_name(root, "Relationship change")) == [
        "Patients take on self-care", "Some patients refuse self-care"]
    assert children_names(groups["CMO parts"]) == ["Context", "Mechanism", "Outcome"]
    assert children_names(groups["Speaker roles"]) == ["Patient", "Staff member"]
    assert children_names(groups["Excerpt kinds"]) == [
        "Participant quote", "Evaluator finding", "Figure", "Quotation from the literature"]


def test_configuration_code_describes_the_configuration_and_refers_to_its_statement_note(kb, open_qdpx):
    root = open_qdpx(refi_qda.export_qdpx()).root
    code = by_name(root, "Shc control")
    assert code.get("guid") == refi_qda.configuration_code_guid("shc-control")
    assert code.get("color") == "#2E7D32"
    assert by_name(root, "Shc fear").get("color") == "#C62828"  # a barrier
    assert code.find(P + "Description").text == (
        "In C, M leads to O (shc-control).\n\n"
        "Teams: SHC\n"
        "Contexts: Patients resigned to dependence on nurses\n"
        "Mechanism: Changes to patient beliefs, attitudes and behaviours › Targeting (triggered)\n"
        "Outcomes: Patients take on self-care\n"
        "Influence: enabler\n"
        "Wish shifts: Power toward Agency (Clinician–patient)\n"
        "Quality domains: Person-centredness\n"
        "Confidence: medium\n"
        "Status: published\n"
        "CMO KB slug: shc-control"
    )
    [note_ref] = code.findall(P + "NoteRef")
    notes = {note.get("guid"): note for note in root.find(P + "Notes").findall(P + "Note")}
    assert set(notes) == {refi_qda.statement_note_guid("shc-control"), refi_qda.statement_note_guid("shc-fear")}
    note = notes[note_ref.get("targetGUID")]
    assert note.get("name") == "Statement: Shc control"
    assert note.find(P + "PlainTextContent").text == "In C, M leads to O (shc-control)."


def test_each_selection_is_exactly_its_excerpt_in_the_exported_text(kb, open_qdpx):
    qdpx = open_qdpx(refi_qda.export_qdpx())
    selections = qdpx.selections()
    assert len(selections) == 3
    for excerpt in (kb.q_control, kb.q_jobs, kb.f_target):
        selection, source = selections[refi_qda.selection_guid(excerpt.slug)]
        start, end = int(selection.get("startPosition")), int(selection.get("endPosition"))
        assert (start, end) == (excerpt.start, excerpt.end)
        assert qdpx.text_of(source)[start:end] == excerpt.text
    # "Café" and "naïve" come before q-jobs: code points, not UTF-8 bytes, count.
    text = qdpx.text_of(next(qdpx.all("TextSource")))
    assert len(text[: kb.q_jobs.start].encode("utf-8")) == kb.q_jobs.start + 2


def test_positions_count_code_points_after_astral_characters(kb, open_qdpx):
    from evidence.models import EvidenceExcerpt, Source

    text = "Émoji 😀 and 𝔸 first (UTF-16 would count 2 each), then: « ça marche » — done.\n"
    source = Source.objects.create(programme=kb.programme, slug="astral", kind=kb.report, title="Astral", full_text=text)
    quote = "« ça marche »"
    excerpt = EvidenceExcerpt.objects.create(slug="astral-quote", source=source, text=quote,
                                             start=text.index(quote), end=text.index(quote) + len(quote))
    qdpx = open_qdpx(refi_qda.export_qdpx())
    selection, text_source = qdpx.selections()[refi_qda.selection_guid("astral-quote")]
    start, end = int(selection.get("startPosition")), int(selection.get("endPosition"))
    assert (start, end) == (excerpt.start, excerpt.end) == (55, 68)
    assert qdpx.text_of(text_source)[start:end] == quote
    assert qdpx.zip.read("sources/" + refi_qda.source_file_name("astral")).decode("utf-8")[start:end] == quote


def test_selection_names_descriptions_and_codings(kb, open_qdpx):
    qdpx = open_qdpx(refi_qda.export_qdpx())
    codes = qdpx.codes()
    selections = qdpx.selections()

    def coded(slug):
        selection, _ = selections[refi_qda.selection_guid(slug)]
        return [codes[c.find(P + "CodeRef").get("targetGUID")].get("name") for c in selection.findall(P + "Coding")]

    control, _ = selections[refi_qda.selection_guid("q-control")]
    assert control.get("name") == "(Shared Haemodialysis Care, patient)"
    assert control.find(P + "Description").text == (
        "Section: 1 Introduction\nAttribution: (Shared Haemodialysis Care, patient)\nKind: Participant quote\n"
        "Team: Shared Haemodialysis Care\nSpeaker: Patient\nCMO KB slug: q-control"
    )
    assert coded("q-control") == ["Shc control", "Outcome", "Patient", "Participant quote"]
    assert coded("q-jobs") == ["Shc fear", "Mechanism", "Staff member", "Participant quote"]
    # Linked to a draft only: no configuration or part coding in a published export.
    finding, _ = selections[refi_qda.selection_guid("f-target")]
    assert finding.get("name") == "Evaluator finding: 1 Introduction"
    assert coded("f-target") == ["Evaluator finding"]
    # Selections come in text order.
    [source] = qdpx.all("TextSource")
    starts = [int(s.get("startPosition")) for s in source.findall(P + "PlainTextSelection")]
    assert starts == sorted(starts)


def test_cases_are_teams_with_their_excerpts(kb, open_qdpx):
    root = open_qdpx(refi_qda.export_qdpx()).root
    cases = root.find(P + "Cases").findall(P + "Case")
    assert [case.get("name") for case in cases] == ["Shared Haemodialysis Care", "Pathway"]
    refs = {case.get("name"): [r.get("targetGUID") for r in case.findall(P + "SelectionRef")] for case in cases}
    assert refs == {
        "Shared Haemodialysis Care": [refi_qda.selection_guid("q-control"), refi_qda.selection_guid("q-jobs")],
        "Pathway": [refi_qda.selection_guid("f-target")],
    }
    variables = {v.get("guid"): v.get("name") for v in root.find(P + "Variables").findall(P + "Variable")}
    values = {
        variables[value.find(P + "VariableRef").get("targetGUID")]: value[1].text
        for value in cases[0].findall(P + "VariableValue")
    }
    assert values == {"Short name": "SHC", "Programme": "Closing the Gap"}


def test_source_variables(kb, open_qdpx):
    root = open_qdpx(refi_qda.export_qdpx()).root
    variables = {v.get("guid"): (v.get("name"), v.get("typeOfVariable")) for v in root.iter(P + "Variable")}
    [source] = root.iter(P + "TextSource")
    values = [(variables[v.find(P + "VariableRef").get("targetGUID")], v[1].tag.removeprefix(P), v[1].text)
              for v in source.findall(P + "VariableValue")]
    assert values == [
        (("Source kind", "Text"), "TextValue", "Evaluation report"),
        (("Date", "Date"), "DateValue", "2014-06-01"),
        (("Programme", "Text"), "TextValue", "Closing the Gap"),
    ]


def test_links_carry_stance_and_part(kb, open_qdpx):
    root = open_qdpx(refi_qda.export_qdpx()).root
    links = [(l.get("name"), l.get("originGUID"), l.get("targetGUID"), l.get("direction"))
             for l in root.find(P + "Links").findall(P + "Link")]
    assert links == [
        ("supports (outcome)", refi_qda.selection_guid("q-control"), refi_qda.configuration_code_guid("shc-control"), "OneWay"),
        ("supports (mechanism)", refi_qda.selection_guid("q-jobs"), refi_qda.configuration_code_guid("shc-fear"), "OneWay"),
    ]


def test_sets_group_configuration_codes(kb, open_qdpx, codebook_schema):
    root = open_qdpx(refi_qda.export_qdpx()).root
    control, fear = refi_qda.configuration_code_guid("shc-control"), refi_qda.configuration_code_guid("shc-fear")
    sets = {s.get("name"): [m.get("targetGUID") for m in s.findall(P + "MemberCode")]
            for s in root.find(P + "Sets").findall(P + "Set")}
    assert sets == {
        "Team: SHC": [control, fear],
        "Wish: Power toward Dependence": [fear],
        "Wish: Power toward Agency": [control],
        "Quality: Safety": [fear],
        "Quality: Person-centredness": [control, fear],
        "Enablers": [control],
        "Barriers": [fear],
        "Mechanism triggered": [control],
        "Mechanism disabled": [fear],
    }
    codebook = ET.fromstring(refi_qda.export_codebook())
    assert {s.get("name"): [m.get("guid") for m in s.findall(C + "MemberCode")]
            for s in codebook.find(C + "Sets").findall(C + "Set")} == sets


def test_published_export_has_no_drafts(kb, open_qdpx):
    qdpx = open_qdpx(refi_qda.export_qdpx())
    draft = refi_qda.configuration_code_guid("pathway-targets")
    assert draft not in qdpx.qde.decode()
    assert "Pathway targets" not in qdpx.code_names()
    assert b"pathway-targets" not in qdpx.qde
    assert b"pathway-targets" not in refi_qda.export_codebook()
    assert "Team: Pathway" not in {s.get("name") for s in qdpx.all("Set")}


def test_export_with_drafts_marks_them_and_codes_their_evidence(kb, open_qdpx):
    qdpx = open_qdpx(refi_qda.export_qdpx(include_drafts=True))
    assert qdpx.root.get("name") == "CMO KB: Closing the Gap (with drafts)"
    codes = qdpx.codes()
    draft = codes[refi_qda.configuration_code_guid("pathway-targets")]
    assert draft.get("name") == "Pathway targets [draft]"
    assert "Status: draft" in draft.find(P + "Description").text
    assert children_names(by_name(qdpx.root, "Changes to health professional beliefs, attitudes and behaviours")) == [
        "Pathway targets [draft]"]
    selection, _ = qdpx.selections()[refi_qda.selection_guid("f-target")]
    assert [c.find(P + "CodeRef").get("targetGUID") for c in selection.findall(P + "Coding")] == [
        refi_qda.configuration_code_guid("pathway-targets"), refi_qda.guid("code", "part", "mechanism"),
        refi_qda.guid("code", "excerpt-kind", "evaluator_finding")]
    codebook = ET.fromstring(refi_qda.export_codebook(include_drafts=True))
    assert "Pathway targets [draft]" in [c.get("name") for c in codebook.iter(C + "Code")]


def test_in_review_configuration_without_a_mechanism_gets_its_own_group(kb, open_qdpx, project_schema):
    from mechanisms.models import CMOConfiguration

    CMOConfiguration.objects.create(programme=kb.programme, slug="idea", title="An idea", status="in_review", statement="Maybe.")
    qdpx = open_qdpx(refi_qda.export_qdpx(include_drafts=True))
    project_schema.validate(io.BytesIO(qdpx.qde))
    assert children_names(by_name(qdpx.root, "Configurations without a mechanism")) == ["An idea [in review]"]
    assert "Configurations without a mechanism" not in open_qdpx(refi_qda.export_qdpx()).code_names()


def test_users_are_the_curators_of_exported_rows(kb, open_qdpx, evaluator, lead, analyst, django_user_model):
    kb.shc_control.updated_by = lead
    kb.shc_control.save()
    kb.q_jobs.created_by = evaluator
    kb.q_jobs.save()
    kb.pathway_targets.created_by = analyst  # a draft: not exported, nor is its curator
    kb.pathway_targets.save()
    lead.first_name, lead.last_name = "Leo", "Lead"
    lead.save()
    qdpx = open_qdpx(refi_qda.export_qdpx())
    users = [(u.get("name"), u.get("id"), u.get("guid")) for u in qdpx.root.find(P + "Users").findall(P + "User")]
    assert users == [("eva", "eva", refi_qda.guid("user", "eva")), ("Leo Lead", "leo", refi_qda.guid("user", "leo"))]
    selection, _ = qdpx.selections()[refi_qda.selection_guid("q-jobs")]
    assert selection.get("creatingUser") == refi_qda.guid("user", "eva")
    assert selection.get("modifyingUser") is None
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", selection.get("creationDateTime"))


def test_no_users_element_when_no_curator_is_recorded(kb, open_qdpx):
    assert open_qdpx(refi_qda.export_qdpx()).root.find(P + "Users") is None


def test_two_exports_of_unchanged_data_are_byte_identical(kb):
    assert refi_qda.export_qdpx() == refi_qda.export_qdpx()
    assert refi_qda.export_qdpx(include_drafts=True) == refi_qda.export_qdpx(include_drafts=True)
    assert refi_qda.export_codebook() == refi_qda.export_codebook()
    # ...and a change shows.
    before = refi_qda.export_qdpx()
    kb.shc_control.statement = "In C, M leads to O, said differently."
    kb.shc_control.save()
    assert refi_qda.export_qdpx() != before


def test_zip_entries_have_a_fixed_timestamp(kb):
    archive = zipfile.ZipFile(io.BytesIO(refi_qda.export_qdpx()))
    assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_DEFLATED}


def test_characters_xml_cannot_carry_are_dropped_from_names_and_descriptions(kb, open_qdpx, project_schema,
                                                                             codebook_schema):
    kb.shc_control.title = "Form\x0cfeed title"
    kb.shc_control.statement = "Bell\x07 and vertical tab\x0b in a statement."
    kb.shc_control.save()
    qdpx = open_qdpx(refi_qda.export_qdpx())
    project_schema.validate(io.BytesIO(qdpx.qde))
    codebook_schema.validate(io.BytesIO(refi_qda.export_codebook()))
    assert "Formfeed title" in qdpx.code_names()


def test_codebook_document(kb, codebook_schema):
    payload = refi_qda.export_codebook()
    assert payload.startswith(b"<?xml version='1.0' encoding='utf-8'?>\n<CodeBook xmlns=\"urn:QDA-XML:codebook:1.0\"")
    root = ET.fromstring(payload)
    assert root.get("origin") == "CMO KB"
    project_codes = ET.fromstring(zipfile.ZipFile(io.BytesIO(refi_qda.export_qdpx())).read("project.qde"))
    # The same tree, with the same GUIDs, as in the project (minus the NoteRefs .qdc has no room for).
    assert [(c.get("guid"), c.get("name")) for c in root.iter(C + "Code")] == [
        (c.get("guid"), c.get("name")) for c in project_codes.iter(P + "Code")]
    assert not list(root.iter(C + "NoteRef"))
    # A codebook still carries each configuration's statement, in its description.
    assert by_name(root, "Shc fear", ns=C).find(C + "Description").text.startswith("In C, M leads to O (shc-fear).")


def test_empty_database_still_exports_valid_files(db, open_qdpx, project_schema, codebook_schema):
    qdpx = open_qdpx(refi_qda.export_qdpx())
    project_schema.validate(io.BytesIO(qdpx.qde))
    codebook_schema.validate(io.BytesIO(refi_qda.export_codebook()))
    assert qdpx.names == ["project.qde"]
    assert [child.tag.removeprefix(P) for child in qdpx.root] == ["CodeBook", "Variables", "Description"]


@pytest.mark.parametrize("evidence, queries", [(True, refi_qda.EXPORT_QUERIES), (False, refi_qda.CODEBOOK_QUERIES)])
def test_loading_costs_a_fixed_number_of_queries(kb, grow_kb, django_assert_num_queries, evidence, queries):
    # One query per line of refi_qda.EXPORT_QUERIES (24: the programmes exported first, for the
    # project's name and the GUIDs of their own terms; the Code rows; the memos' codes and sources),
    # or the first 19 for a codebook; building the codebook costs none, streaming the project one
    # per line of STREAM_QUERIES (11: with the codings, memos of excerpts, memos and relations).
    # grow_kb adds Code, Coding, Memo and Relation rows and imported GUIDs too.
    assert len(refi_qda.EXPORT_QUERIES) == 24 and len(refi_qda.CODEBOOK_QUERIES) == 19
    assert len(refi_qda.STREAM_QUERIES) == 11
    for size in (0, 3):
        if size:
            grow_kb(size)
        with django_assert_num_queries(len(queries)):
            data = refi_qda.load_export_data(include_drafts=True, evidence=evidence)
        with django_assert_num_queries(len(refi_qda.STREAM_QUERIES) if evidence else 0):
            if evidence:
                b"".join(refi_qda.iter_project_qdpx(data, refi_qda.StreamedRows(data)))
            else:
                refi_qda.build_codebook_xml(data)
    assert len(data.configurations) == 6


def test_the_project_streams_in_chunks(kb, grow_kb, monkeypatch, open_qdpx, project_schema):
    # With a small batch the archive comes in several chunks (zlib holds back what it has not
    # compressed yet) that join to the same bytes, and a zip reader takes it (entries carry their
    # sizes in data descriptors: the sink cannot seek).
    from evidence.refi_qda import archive

    grow_kb(3)
    whole = refi_qda.export_qdpx(include_drafts=True)
    monkeypatch.setattr(archive, "XML_BATCH", 256)
    chunks = list(refi_qda.iter_qdpx(include_drafts=True))
    assert len(chunks) > 3
    assert b"".join(chunks) == whole
    infos = zipfile.ZipFile(io.BytesIO(whole)).infolist()
    assert all(info.flag_bits & 0x08 for info in infos)  # data descriptor
    qdpx = open_qdpx(whole)
    project_schema.validate(io.BytesIO(qdpx.qde))
    assert len(qdpx.selections()) == len(list(qdpx.all("PlainTextSelection"))) > 3


def test_drafts_links_stay_out_of_the_published_selections(kb, open_qdpx):
    # The selections query joins every evidence link; links to drafts must not become codings.
    from mechanisms.models import CMOConfiguration

    drafts = set(CMOConfiguration.objects.exclude(status="published").values_list("slug", flat=True))
    assert drafts
    draft_codes = {refi_qda.configuration_code_guid(slug) for slug in drafts}
    qdpx = open_qdpx(refi_qda.export_qdpx())
    refs = {ref.get("targetGUID") for ref in qdpx.all("CodeRef")}
    assert refs and not refs & draft_codes
    with_drafts = open_qdpx(refi_qda.export_qdpx(include_drafts=True))
    assert {ref.get("targetGUID") for ref in with_drafts.all("CodeRef")} & draft_codes


def test_evidence_link_note_becomes_a_note_the_link_refers_to(kb, open_qdpx, project_schema):
    link = kb.q_jobs.links.get()
    link.note = "Fear of job losses, in the staff member's words."
    link.save()
    qdpx = open_qdpx(refi_qda.export_qdpx())
    project_schema.validate(io.BytesIO(qdpx.qde))
    [ref] = [l.find(P + "NoteRef") for l in qdpx.all("Link") if l.get("name") == "supports (mechanism)"]
    notes = {n.get("guid"): n for n in qdpx.all("Note")}
    note = notes[ref.get("targetGUID")]
    assert note.get("name") == "Evidence link note"
    assert note.find(P + "PlainTextContent").text == "Fear of job losses, in the staff member's words."
    assert len(notes) == 3  # two statements and this note
