"""mechanisms/configuration_import.py: CMO spreadsheets (.csv and .xlsx) imported as drafts, their
quotes located in the sources, all or nothing, with a report naming every error."""

import csv
import io

import openpyxl
import pytest
from django.core.management import CommandError, call_command

from cmo_kb.vocabulary import ReviewStatus
from evidence.import_report import ImportReport
from mechanisms.configuration_import import import_configurations, locate
from tests.conftest import SMALL_SOURCE_TEXT, join

HEADER = ["title", "teams", "contexts", "mechanism", "theme", "effect", "influence", "outcomes", "quality_domains",
          "statement", "evidence", "evidence_source", "evidence_part", "evidence_stance"]


def row(**values):
    base = {
        "title": "Patients feel in control", "teams": "shc", "contexts": "Patients resigned to dependence on nurses",
        "mechanism": "patient-beliefs", "theme": "Targeting", "effect": "triggered", "influence": "enabler",
        "outcomes": "self-care", "quality_domains": "person-centredness; Safety",
        "statement": "In resignation, patient beliefs triggered lead to self-care.",
        "evidence": "I feel more in control of my own dialysis now.", "evidence_source": "small-report",
        "evidence_part": "outcome; mechanism", "evidence_stance": "supports",
    }
    base.update(values)
    return base


def csv_file(rows, name="configurations.csv", header=None, bom=False):
    header = header or list(rows[0]) if rows else HEADER
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for r in rows:
        writer.writerow([r.get(column, "") for column in header])
    data = buffer.getvalue().encode("utf-8")
    upload = io.BytesIO((b"\xef\xbb\xbf" if bom else b"") + data)
    upload.name = name
    return upload


def xlsx_file(rows, name="configurations.xlsx"):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    header = list(rows[0])
    sheet.append(header)
    for r in rows:
        sheet.append([r.get(column, "") for column in header])
    upload = io.BytesIO()
    workbook.save(upload)
    upload.seek(0)
    upload.name = name
    return upload


def entries(report):
    return [(e.action, e.kind, e.label) for e in report.entries]


def problems(report):
    return [(p.where, p.field, p.value, p.reason) for p in report.errors]


@pytest.mark.parametrize("make", [lambda rows: csv_file(rows, bom=True), xlsx_file], ids=["csv", "xlsx"])
def test_a_row_becomes_a_draft_configuration_with_its_evidence(kb, evaluator, make):
    from evidence.models import EvidenceExcerpt
    from mechanisms.models import CMOConfiguration

    report = import_configurations(make([row(status="published")]), kb.programme, user=evaluator)
    assert report.ok and report.written, problems(report)
    configuration = CMOConfiguration.objects.get(slug="patients-feel-in-control")
    assert (configuration.programme, configuration.title, configuration.status, configuration.mechanism,
            configuration.theme, configuration.effect, configuration.influence, configuration.statement) == (
        kb.programme, "Patients feel in control", ReviewStatus.DRAFT, kb.patient_beliefs, kb.targeting, "triggered",
        "enabler", "In resignation, patient beliefs triggered lead to self-care.")
    assert list(configuration.teams.all()) == [kb.shc]
    assert list(configuration.contexts.all()) == [kb.resigned]
    assert list(configuration.outcomes.all()) == [kb.self_care]
    assert set(configuration.quality_domains.all()) == {kb.person, kb.safety}
    assert configuration.created_by == evaluator
    # The quote is kb's existing excerpt (same source and offsets): reused, not duplicated.
    links = sorted((link.excerpt, link.part, link.stance) for link in configuration.evidence_links.all())
    assert links == [(kb.q_control, "mechanism", "supports"), (kb.q_control, "outcome", "supports")]
    assert EvidenceExcerpt.objects.count() == 3
    assert entries(report) == [
        ("created", "CMO configuration", "patients-feel-in-control"),
        ("created", "evidence link", "q-control supports patients-feel-in-control (outcome)"),
        ("created", "evidence link", "q-control supports patients-feel-in-control (mechanism)"),
    ]
    assert [str(note) for note in report.notes] == [
        f"{report.file_name} row 2: status 'published' ignored: an imported configuration is a draft"]


def test_a_quote_found_only_with_white_space_collapsed_is_mapped_to_the_exact_span(kb, evaluator):
    from evidence.models import EvidenceExcerpt, Source

    text = "Intro.\nStaff said: 'We were\n   worried\tabout\r\nthe  jobs.' (SHC, staff)\nEnd."
    source = Source.objects.create(slug="transcript", kind=kb.report, programme=kb.programme, title="T", full_text=text)
    quote = "We were worried about the jobs."
    report = import_configurations(csv_file([row(evidence=quote, evidence_source="transcript", evidence_part="context",
                                                 evidence_stance="Challenges")]), kb.programme, user=evaluator)
    assert report.ok, problems(report)
    excerpt = EvidenceExcerpt.objects.get(source=source)
    assert (excerpt.start, excerpt.end) == (text.index("We were"), text.index("jobs.") + len("jobs."))
    assert excerpt.text == source.full_text[excerpt.start:excerpt.end] == "We were\n   worried\tabout\r\nthe  jobs."
    link = excerpt.links.get()
    assert (link.part, link.stance, link.configuration.slug) == ("context", "challenges", "patients-feel-in-control")
    assert ("created", "evidence excerpt", f"{excerpt.slug} (transcript {excerpt.start}–{excerpt.end})") in entries(report)


def test_locate_prefers_verbatim_and_counts_repeats():
    assert locate("b c", "a b c d") == (2, 5, "verbatim")
    assert locate("b  c", "a b c d") == (2, 5, "collapsed")
    assert locate("x", "x y x") == (None, 2, "verbatim")
    assert locate("z", "x y") == (None, 0, "collapsed")


def test_every_error_is_named_and_nothing_is_written(kb, evaluator):
    from evidence.models import EvidenceExcerpt, EvidenceLink
    from mechanisms.models import CMOConfiguration, Context

    counts = (CMOConfiguration.objects.count(), EvidenceExcerpt.objects.count(), EvidenceLink.objects.count(),
              Context.objects.count())
    rows = [
        row(title="Fine row"),
        row(title="Absent quote", evidence="Nobody said this."),
        row(title="Twice", evidence="Shared Haemodialysis Care, "),
        row(title="Unknown terms", contexts="Resigned to dependance; Brand new context", effect="sometimes"),
    ]
    report = import_configurations(csv_file(rows), kb.programme, user=evaluator)
    assert not report.written
    f = "configurations.csv"
    assert problems(report) == [
        (f"{f} row 3", "evidence", "Nobody said this.",
         "not found in the source 'small-report', even with white space collapsed"),
        (f"{f} row 4", "evidence", "Shared Haemodialysis Care, ",
         "found more than once in the source 'small-report' (verbatim): quote more of it so that it is found once"),
        (f"{f} row 5", "effect", "sometimes", "not one of triggered, disabled"),
        (f"{f} row 5", "contexts", "Resigned to dependance",
         "no such context in the programme 'ctg'; near: resigned-dependence "
             "(Patients resigned to dependence on nurses) (or import with create_terms to create it)"),
        (f"{f} row 5", "contexts", "Brand new context",
         "no such context in the programme 'ctg' (or import with create_terms to create it)"),
    ]
    assert report.summary() == f"{f}: Refused: nothing was written. 1 CMO configuration created, 2 evidence link created; 5 errors."
    assert counts == (CMOConfiguration.objects.count(), EvidenceExcerpt.objects.count(), EvidenceLink.objects.count(),
                      Context.objects.count())


def test_create_terms_creates_the_unknown_ones_and_reports_them(kb, evaluator):
    from mechanisms.models import CMOConfiguration, Context, Outcome

    rows = [row(contexts="Brand new context; four-hour-target", outcomes="New outcome", outcome_kind="relationship-change"),
            row(title="Second", contexts="brand new context")]
    refused = import_configurations(csv_file(rows), kb.programme, user=evaluator)
    assert [p.field for p in refused.errors] == ["contexts", "outcomes", "contexts"]
    report = import_configurations(csv_file(rows), kb.programme, user=evaluator, create_terms=True)
    assert report.ok and report.written, problems(report)
    new = Context.objects.get(programme=kb.programme, slug="brand-new-context")
    assert new.name == "Brand new context"
    assert set(CMOConfiguration.objects.get(slug="second").contexts.all()) == {new}
    assert Outcome.objects.get(slug="new-outcome").kind == kb.relationship_kind
    created_terms = [e for e in entries(report) if e[1] in ("context", "outcome")]
    assert created_terms == [("created", "context", "brand-new-context (Brand new context)"),
                             ("created", "outcome", "new-outcome (New outcome)")]


def test_a_dry_run_writes_nothing_and_reports_what_the_real_run_does(kb, evaluator):
    from mechanisms.models import CMOConfiguration

    rows = [row(), row(title="Another one", evidence="We were worried our jobs would go.", evidence_part="mechanism")]
    dry = import_configurations(csv_file(rows), kb.programme, user=evaluator, dry_run=True)
    assert dry.ok and not dry.written
    assert not CMOConfiguration.objects.filter(slug__in=["patients-feel-in-control", "another-one"]).exists()
    real = import_configurations(csv_file(rows), kb.programme, user=evaluator)
    assert real.written and entries(real) == entries(dry) and real.errors == dry.errors == []
    assert dry.summary().replace("Dry run: nothing was written", "Written") == real.summary()


def test_history_records_the_importing_user_and_the_file(kb, evaluator):
    from mechanisms.models import CMOConfiguration

    import_configurations(csv_file([row()], name="wave-2.csv"), kb.programme, user=evaluator)
    record = CMOConfiguration.history.filter(slug="patients-feel-in-control", history_type="+").get()
    assert (record.history_user, record.history_change_reason) == (evaluator, "import: wave-2.csv")
    link = kb.q_control.links.filter(configuration__slug="patients-feel-in-control").first()
    assert link.history.get().history_change_reason == "import: wave-2.csv"


def test_an_existing_slug_a_repeated_one_and_a_bad_one_are_errors(kb, evaluator):
    report = import_configurations(csv_file([row(title="shc control", slug=""), row(title="Twin"), row(title="twin"),
                                             row(slug="not a slug", mechanism="nope")]),
                                   kb.programme, user=evaluator)
    assert [(p.where, p.field, p.value) for p in report.errors] == [
        ("configurations.csv row 2", "slug", "shc-control"), ("configurations.csv row 4", "slug", "twin"),
        ("configurations.csv row 5", "slug", "not a slug"), ("configurations.csv row 5", "mechanism", "nope")]


def test_an_unreadable_file_and_a_bad_header_are_named(kb, evaluator):
    bad = io.BytesIO(b"\xff\xfe not utf-8")
    bad.name = "bad.csv"
    report = import_configurations(bad, kb.programme, user=evaluator)
    assert [(p.field, p.reason) for p in report.errors] == [
        ("file", "Not UTF-8 text (byte 0 cannot be read): save the CSV as UTF-8.")]
    broken = io.BytesIO(b"PK not a zip")
    broken.name = "broken.xlsx"
    assert import_configurations(broken, kb.programme, user=evaluator).errors[0].field == "file"
    header = import_configurations(csv_file([{"title": "x", "contexs": "y"}]), kb.programme, user=evaluator)
    assert problems(header) == [
        ("configurations.csv row 1", "header", "contexs", "unknown column; did you mean contexts?"),
        ("configurations.csv row 1", "header", "", "the required column 'statement' is missing"),
    ]


def test_a_non_member_is_refused_and_a_private_programmes_terms_stay_hidden(kb, evaluator, django_user_model):
    from mechanisms.models import Context
    from projects.membership import ProgrammeWriteRefused
    from projects.models import Programme

    outsider = django_user_model.objects.create_user("outsider", password="pw")
    with pytest.raises(ProgrammeWriteRefused) as refusal:
        import_configurations(csv_file([row()]), kb.programme, user=outsider)
    assert refusal.value.programme == "ctg"
    with pytest.raises(CommandError, match="You do not write in the programme 'ctg'"):
        call_command("import_configurations", "/dev/null.csv", "--programme", "ctg", "--user", "outsider")

    private = Programme.objects.create(slug="secret", name="Secret", is_public=False)
    Context.objects.create(programme=private, slug="hidden-context", name="Hidden context")
    report = import_configurations(csv_file([row(contexts="Hidden context")]), kb.programme, user=evaluator)
    assert problems(report) == [("configurations.csv row 2", "contexts", "Hidden context",
                                 "no such context in the programme 'ctg' (or import with create_terms to create it)")]
    join(outsider, private, "evaluator")
    with pytest.raises(ProgrammeWriteRefused):
        import_configurations(csv_file([row()]), kb.programme, user=outsider)


def test_the_command_prints_the_report_and_fails_on_errors(kb, evaluator, tmp_path):
    from mechanisms.models import CMOConfiguration

    path = tmp_path / "sheet.csv"
    path.write_bytes(csv_file([row()]).getvalue())
    out = io.StringIO()
    call_command("import_configurations", str(path), "--programme", "ctg", "--dry-run", "--user", "eva", stdout=out)
    assert out.getvalue().splitlines()[0] == ("sheet.csv: Dry run: nothing was written. 1 CMO configuration created, "
                                              "2 evidence link created; 0 errors.")
    assert not CMOConfiguration.objects.filter(slug="patients-feel-in-control").exists()
    call_command("import_configurations", str(path), "--programme", "ctg", stdout=io.StringIO())
    assert CMOConfiguration.objects.get(slug="patients-feel-in-control").status == ReviewStatus.DRAFT
    with pytest.raises(CommandError) as failure:
        call_command("import_configurations", str(path), "--programme", "ctg", stdout=io.StringIO())
    assert "sheet.csv row 2: slug 'patients-feel-in-control': a configuration with this slug already exists" in str(failure.value)


def test_a_commands_import_is_a_run_undone_in_one_step(kb, evaluator, tmp_path):
    """The command records its import as a run (evidence/import_runs.py), so undo_import undoes it."""
    from evidence.import_runs import ImportRun
    from mechanisms.models import CMOConfiguration

    path = tmp_path / "sheet.csv"
    path.write_bytes(csv_file([row()]).getvalue())
    out = io.StringIO()
    call_command("import_configurations", str(path), "--programme", "ctg", "--user", "eva", stdout=out)
    run = ImportRun.objects.get(file_name="sheet.csv", dry_run=False)
    assert (run.status, run.user, run.kind, run.report["written"]) == ("done", evaluator, "configurations", True)
    assert f"undo it with `manage.py undo_import {run.pk}`" in out.getvalue()
    imported = CMOConfiguration.objects.get(slug="patients-feel-in-control")
    assert imported.history.latest().history_change_reason == f"import #{run.pk}: sheet.csv"
    call_command("undo_import", str(run.pk), stdout=io.StringIO())
    assert not CMOConfiguration.objects.filter(slug="patients-feel-in-control").exists()
    run.refresh_from_db()
    assert run.status == "undone"
    with pytest.raises(CommandError, match="Cannot open 'missing.csv': No such file or directory"):
        call_command("import_configurations", str(tmp_path / "missing.csv"), "--programme", "ctg")
    assert ImportRun.objects.order_by("pk").last().status == "refused"  # the report is kept, as for any run


def test_a_second_quote_goes_in_numbered_columns(kb, evaluator):
    from mechanisms.models import CMOConfiguration

    values = row(evidence_2="We were worried our jobs would go.", evidence_source_2="small-report",
                 evidence_part_2="context", evidence_stance_2="illustrates")
    report = import_configurations(xlsx_file([values]), kb.programme, user=evaluator)
    assert report.ok, problems(report)
    links = CMOConfiguration.objects.get(slug="patients-feel-in-control").evidence_links.all()
    assert sorted((link.excerpt.slug, link.part, link.stance) for link in links) == [
        ("q-control", "mechanism", "supports"), ("q-control", "outcome", "supports"), ("q-jobs", "context", "illustrates")]


def test_the_report_is_an_import_report(kb, evaluator):
    assert isinstance(import_configurations(csv_file([row()]), kb.programme, user=evaluator, dry_run=True), ImportReport)
    assert SMALL_SOURCE_TEXT.count("Shared Haemodialysis Care, ") == 2
