"""evidence/import_report.py: a dry run and a run with errors write nothing; a real run keeps its
rows, recorded in history as the importing user with the file's name."""

import pytest

from evidence.import_report import ImportReport, history_reason, run_import


def _write_context(kb, slug):
    from mechanisms.models import Context

    def write(report):
        context = Context(programme=kb.programme, slug=slug, name=slug.title())
        context._change_reason = history_reason(report.file_name)
        context.full_clean()
        context.save()
        report.created("context", context.slug, where=f"{report.file_name} row 2")
    return write


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_dry_run_reports_what_a_real_run_writes_and_writes_nothing(kb, evaluator, dry_run):
    from mechanisms.models import Context

    report = run_import(_write_context(kb, "imported-context"), ImportReport("contexts.csv", dry_run=dry_run),
                        user=evaluator)
    assert [(e.action, e.kind, e.label) for e in report.entries] == [("created", "context", "imported-context")]
    assert report.written is not dry_run
    assert Context.objects.filter(slug="imported-context").exists() is not dry_run
    assert report.summary() == ("contexts.csv: " + ("Dry run: nothing was written" if dry_run else "Written")
                                + ". 1 context created; 0 errors.")
    if not dry_run:
        record = Context.history.get(slug="imported-context")
        assert (record.history_user, record.history_change_reason) == (evaluator, "import: contexts.csv")


def test_any_error_writes_nothing_and_names_where_what_and_why(kb, evaluator):
    from mechanisms.models import Context

    def write(report):
        _write_context(kb, "first-context")(report)
        report.error("contexts.csv row 3", "slug", "Bad Slug", "Enter a valid slug.")

    report = run_import(write, ImportReport("contexts.csv"), user=evaluator)
    assert report.written is False and not Context.objects.filter(slug="first-context").exists()
    assert [str(p) for p in report.errors] == ["contexts.csv row 3: slug 'Bad Slug': Enter a valid slug."]
    assert report.as_dict()["errors"] == [{"where": "contexts.csv row 3", "field": "slug", "value": "Bad Slug",
                                           "reason": "Enter a valid slug."}]


def test_a_model_rule_broken_inside_the_import_is_an_error_of_the_file(kb, evaluator):
    from mechanisms.models import Context

    report = run_import(_write_context(kb, "Not A Slug"), ImportReport("contexts.csv"), user=evaluator)
    assert report.written is False and not Context.objects.filter(name="Not A Slug").exists()
    assert [(p.where, p.field) for p in report.errors] == [("contexts.csv", "slug")]
