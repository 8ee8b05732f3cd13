"""evidence/import_runs.py: imports run in the background as ImportRuns, with progress, a report kept
on the run, history naming the run, and an undo of the whole run in one step."""

import io
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from evidence.import_report import ImportReport, current_run, history_reason, run_import
from evidence.import_runs import IMPORTERS, ImportRun, UndoRefused, importer_for, register
from tests.conftest import join
from tests.imports.test_configuration_import import csv_file, row, xlsx_file


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.CACHES = {**settings.CACHES, "import_progress": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(tmp_path / "progress")}}
    return tmp_path / "media"


def stored_files(media):
    return sorted(str(p.relative_to(media)) for p in media.rglob("*") if p.is_file()) if media.exists() else []


def upload(data, name):
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def text_document(name="interview.txt"):
    return upload("Interview with a nurse\n\nI feel more in control of my own dialysis now.\n".encode(), name)


# --- progress ---------------------------------------------------------------------------------------


class Recorder:
    pk = 0

    def __init__(self):
        self.calls = []

    def progress(self, done, total, label=""):
        self.calls.append((done, total, label))


def test_progress_is_a_no_op_outside_a_run_and_reaches_the_run_inside_one(kb, evaluator):
    from mechanisms.configuration_import import import_configurations

    ImportReport("x.csv").progress(1, 2)  # nothing to receive it: no error
    recorder = Recorder()
    token = current_run.set(recorder)
    try:
        rows = [row(), row(title="Second", slug="second")]
        report = import_configurations(csv_file(rows), kb.programme, user=evaluator, dry_run=True)
    finally:
        current_run.reset(token)
    assert report.ok
    assert recorder.calls == [(0, 2, "rows"), (1, 2, "rows"), (2, 2, "rows")]


def test_the_history_reason_names_the_run_inside_one():
    assert history_reason("a.csv") == "import: a.csv"
    token = current_run.set(Recorder())
    try:
        assert history_reason("a.csv") == "import #0: a.csv"
    finally:
        current_run.reset(token)


def test_the_kind_comes_from_the_extension_or_is_given():
    assert importer_for("Report.DOCX").kind == "document"
    assert importer_for("cmos.xlsx").kind == "configurations"
    assert importer_for("cmos.txt", kind="configurations").kind == "configurations"
    assert importer_for("picture.png") is None
    assert importer_for("a.csv", kind="nothing") is None


# --- a run, its confirmation, its report ----------------------------------------------------------


def test_a_dry_run_then_its_confirmation_write_once_with_the_run_in_history(kb, evaluator, media):
    from mechanisms.models import CMOConfiguration

    dry = ImportRun.start(user=evaluator, programme=kb.programme, file=xlsx_file([row()]), dry_run=True)
    assert (dry.kind, dry.status, dry.dry_run, dry.done, dry.total) == ("configurations", "done", True, 1, 1)
    assert dry.report["counts"] == [{"action": "created", "kind": "CMO configuration", "count": 1},
                                    {"action": "created", "kind": "evidence link", "count": 2}]
    assert not CMOConfiguration.objects.filter(slug="patients-feel-in-control").exists()
    assert stored_files(media) and dry.file  # waits for its confirmation

    real = dry.confirm(evaluator)
    assert (real.status, real.dry_run, real.written, real.confirms) == ("done", False, True, dry)
    assert stored_files(media) == []  # the file goes once the run is done
    dry.refresh_from_db()
    assert not dry.file
    configuration = CMOConfiguration.objects.get(slug="patients-feel-in-control")
    record = configuration.history.earliest()
    assert (record.history_user, record.history_change_reason) == (evaluator, f"import #{real.pk}: configurations.xlsx")
    with pytest.raises(ValueError):
        dry.confirm(evaluator)  # once only


def test_an_unconfirmed_dry_run_loses_its_file_after_a_day(kb, evaluator, media):
    from datetime import timedelta

    from django.utils import timezone

    dry = ImportRun.start(user=evaluator, programme=kb.programme, file=csv_file([row()]), dry_run=True)
    assert stored_files(media)
    ImportRun.objects.filter(pk=dry.pk).update(finished_at=timezone.now() - timedelta(days=2))
    ImportRun.start(user=evaluator, programme=kb.programme, file=csv_file([row(mechanism="nope")]))
    dry.refresh_from_db()
    assert not dry.file and stored_files(media) == [] and dry.report["entries"]  # the report stays


def test_a_refused_run_keeps_its_report_and_writes_nothing(kb, evaluator, media):
    run = ImportRun.start(user=evaluator, programme=kb.programme, file=csv_file([row(mechanism="nowhere")]))
    assert (run.status, run.written) == ("refused", False)
    assert [(e["field"], e["value"]) for e in run.report["errors"]] == [("mechanism", "nowhere")]
    assert stored_files(media) == []


def test_a_non_writer_run_is_refused_naming_the_programme(kb, analyst, media):
    run = ImportRun.start(user=analyst, programme=kb.programme, file=text_document())
    assert run.status == "refused"
    assert run.report["errors"][0]["field"] == "programme"
    assert "You do not write in the programme 'ctg'" in run.report["errors"][0]["reason"]


def test_a_crash_is_a_failed_run_not_a_running_one(kb, evaluator, media, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("mechanisms.configuration_import.import_configurations", crash)
    run = ImportRun.start(user=evaluator, programme=kb.programme, file=csv_file([row()]))
    assert (run.status, run.message) == ("failed", "RuntimeError: boom")
    assert run.status_dict()["ended"]


@pytest.mark.django_db(transaction=True)  # the worker closes the connection when it is done
def test_the_database_backend_runs_a_queued_run_in_the_worker(kb, evaluator, media, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    run = ImportRun.start(user=evaluator, programme=kb.programme, file=csv_file([row()]))
    assert run.status == "queued"
    call_command("db_worker", "--batch", "--interval", "0", "--no-startup-delay", verbosity=0)
    run.refresh_from_db()
    assert (run.status, run.written) == ("done", True)


# --- undo -----------------------------------------------------------------------------------------


def test_undo_deletes_what_a_spreadsheet_run_created_in_one_step(kb, evaluator, media):
    from evidence.models import EvidenceExcerpt, EvidenceLink
    from mechanisms.models import CMOConfiguration, Context

    excerpts, links = EvidenceExcerpt.objects.count(), EvidenceLink.objects.count()
    run = ImportRun.start(user=evaluator, programme=kb.programme, options={"create_terms": True},
                          file=csv_file([row(contexts="A brand new context")]))
    assert run.written, run.report["errors"]
    assert Context.objects.filter(name="A brand new context").exists()
    run.undo(evaluator)
    assert run.status == "undone" and run.undone_by == evaluator
    assert not CMOConfiguration.objects.filter(slug="patients-feel-in-control").exists()
    assert not Context.objects.filter(name="A brand new context").exists()
    assert (EvidenceExcerpt.objects.count(), EvidenceLink.objects.count()) == (excerpts, links)
    deleted = CMOConfiguration.history.filter(slug="patients-feel-in-control").latest()
    assert (deleted.history_type, deleted.history_user, deleted.history_change_reason) == (
        "-", evaluator, f"undo import #{run.pk}")
    with pytest.raises(UndoRefused, match="already undone"):
        run.undo(evaluator)


def test_undo_of_a_document_run_deletes_the_source_and_its_file(kb, evaluator, media, django_capture_on_commit_callbacks):
    from evidence.models import Source

    run = ImportRun.start(user=evaluator, programme=kb.programme, file=text_document())
    source = Source.objects.get(title="interview")  # plain text has no headings: the file's name
    assert stored_files(media) == [source.file.name]
    with django_capture_on_commit_callbacks(execute=True):
        run.undo(evaluator)
    assert not Source.objects.filter(pk=source.pk).exists()
    assert stored_files(media) == []


@pytest.fixture
def renaming_importer():
    """An importer that updates rows: it renames the programme's contexts named "Fresh ..." (REFI-QDA
    re-imports update codes the same way)."""

    def rename(file, programme, user=None, dry_run=False, suffix=" (renamed)"):
        from mechanisms.models import Context

        report = ImportReport(file.name, dry_run=dry_run)

        def write(report):
            for context in Context.objects.filter(programme=programme, name__startswith="Fresh").order_by("pk"):
                context.name += suffix
                context._change_reason = history_reason(file.name)
                context.save()
                report.updated("context", context.slug)

        return run_import(write, report, user=user)

    import tests.imports.test_import_runs as module

    module.rename_contexts = rename
    register("test-rename", "Renamer", (".rename",), "tests.imports.test_import_runs.rename_contexts", {"suffix": ""})
    yield
    IMPORTERS.pop("test-rename")


def test_undo_restores_the_rows_a_run_updated(kb, evaluator, media, renaming_importer):
    from mechanisms.models import Context

    for n in (1, 2):
        Context.objects.create(programme=kb.programme, slug=f"fresh-{n}", name=f"Fresh {n}")
    before = dict(Context.objects.filter(programme=kb.programme).values_list("pk", "name"))
    run = ImportRun.start(user=evaluator, programme=kb.programme, file=upload(b"x", "contexts.rename"))
    assert run.written, run.message or run.report["errors"]
    assert sorted(Context.objects.filter(slug__startswith="fresh").values_list("name", flat=True)) == [
        "Fresh 1 (renamed)", "Fresh 2 (renamed)"]
    run.undo(evaluator)
    assert dict(Context.objects.filter(programme=kb.programme).values_list("pk", "name")) == before
    record = Context.history.filter(slug="fresh-1").latest()
    assert (record.history_type, record.history_change_reason) == ("~", f"undo import #{run.pk}")


def test_undo_is_refused_when_a_row_changed_after_the_import(kb, evaluator, lead, media):
    from mechanisms.models import CMOConfiguration
    from mechanisms.publish_lock import acting_as

    run = ImportRun.start(user=evaluator, programme=kb.programme, file=csv_file([row()]))
    configuration = CMOConfiguration.objects.get(slug="patients-feel-in-control")
    with acting_as(lead):
        configuration.title = "Edited by the lead"
        configuration._change_reason = "a better title"
        configuration.save()
    with pytest.raises(UndoRefused) as refused:
        run.undo(evaluator)
    assert "1 row was changed after it. Nothing was changed." in refused.value.message
    assert refused.value.rows == [
        f"CMO configuration “{configuration}”: changed by the operator on "
        f"{refused.value.rows[0].split(' on ')[1].split(' (')[0]} (a better title)"]
    assert CMOConfiguration.objects.filter(slug="patients-feel-in-control").exists()
    run.refresh_from_db()
    assert run.status == "done"


def test_undo_is_refused_when_a_row_added_later_depends_on_an_imported_one(kb, evaluator, lead, media):
    """An evidence link added after the import to an imported configuration would be deleted with it."""
    from evidence.models import EvidenceLink
    from mechanisms.models import CMOConfiguration
    from mechanisms.publish_lock import acting_as

    run = ImportRun.start(user=evaluator, programme=kb.programme, file=csv_file([row()]))
    configuration = CMOConfiguration.objects.get(slug="patients-feel-in-control")
    excerpt = configuration.evidence_links.first().excerpt
    with acting_as(lead):
        added = EvidenceLink.objects.create(excerpt=excerpt, configuration=configuration, part="context",
                                            stance="challenges")
    with pytest.raises(UndoRefused, match="changed after it") as refused:
        run.undo(evaluator)
    assert refused.value.rows == [f"evidence link “{added}”: added after the import; it depends on "
                                  f"CMO configuration “{configuration}”"]
    assert EvidenceLink.objects.filter(pk=added.pk).exists() and run.status == "done"


def test_only_the_owner_or_a_lead_who_writes_there_may_undo(kb, evaluator, lead, analyst, django_user_model, media):
    from cmo_kb.vocabulary import EVALUATOR_GROUP
    from mechanisms.models import CMOConfiguration
    from projects.models import ProgrammeMembership
    from tests.conftest import _make_user

    run = ImportRun.start(user=evaluator, programme=kb.programme, file=csv_file([row()]))
    colleague = _make_user(django_user_model, "colleague", EVALUATOR_GROUP, is_staff=True)
    for user in (analyst, colleague):
        with pytest.raises(UndoRefused, match="Only the user who imported the file, or a lead evaluator"):
            run.undo(user)
    # The owner who no longer writes in the programme cannot undo either.
    ProgrammeMembership.objects.filter(user=evaluator, programme=kb.programme).delete()
    evaluator = django_user_model.objects.get(pk=evaluator.pk)
    with pytest.raises(UndoRefused):
        run.undo(evaluator)
    assert CMOConfiguration.objects.filter(slug="patients-feel-in-control").exists()
    run.undo(lead)  # a lead of the programme may
    assert run.status == "undone" and run.undone_by == lead


def test_undo_goes_through_the_publish_lock(kb, evaluator, lead, media):
    """A configuration the lead published after the import is a change after it: refused."""
    from mechanisms.models import CMOConfiguration
    from mechanisms.publish_lock import acting_as

    run = ImportRun.start(user=evaluator, programme=kb.programme, file=csv_file([row()]))
    configuration = CMOConfiguration.objects.get(slug="patients-feel-in-control")
    with acting_as(lead):
        configuration.status = "published"
        configuration.save()
    with pytest.raises(UndoRefused, match="changed after it"):
        run.undo(lead)
    assert CMOConfiguration.objects.filter(pk=configuration.pk).exists()


def test_a_dry_run_cannot_be_undone(kb, evaluator, media):
    run = ImportRun.start(user=evaluator, programme=kb.programme, file=csv_file([row()]), dry_run=True)
    with pytest.raises(UndoRefused, match="wrote nothing"):
        run.undo(evaluator)


def test_undo_import_command(kb, evaluator, media):
    from mechanisms.models import CMOConfiguration

    run = ImportRun.start(user=evaluator, programme=kb.programme, file=csv_file([row()]))
    out = io.StringIO()
    call_command("undo_import", str(run.pk), stdout=out)
    assert out.getvalue().strip() == f"Import #{run.pk} (configurations.csv) undone as eva."
    assert not CMOConfiguration.objects.filter(slug="patients-feel-in-control").exists()
    with pytest.raises(CommandError, match="already undone"):
        call_command("undo_import", str(run.pk))
    with pytest.raises(CommandError, match="There is no import run #999999"):
        call_command("undo_import", "999999")


# --- progress seen from elsewhere while the import holds its transaction ----------------------------


@pytest.mark.django_db(transaction=True)
def test_progress_is_visible_from_another_connection_while_the_import_runs(media, django_user_model):
    """The import runs in a thread (its own connection, its one transaction open); this thread reads
    the run's status meanwhile, as the status endpoint does in another process."""
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip("an in-memory SQLite database is shared by table locks: "
                    "test_progress_is_visible_on_a_sqlite_file checks SQLite on a file, as make run has it")
    from mechanisms.models import Context
    from tests.conftest import home_programme

    programme = home_programme()
    Context.objects.create(programme=programme, slug="c1", name="One")
    halfway, finish = threading.Event(), threading.Event()

    def slow(file, programme, user=None, dry_run=False):
        report = ImportReport(file.name, dry_run=dry_run)

        def write(report):
            context = Context.objects.get(slug="c1")
            context.name = "Renamed"
            context.save()
            report.progress(1, 2, "halfway")
            halfway.set()
            assert finish.wait(20)
            report.progress(2, 2)

        return run_import(write, report)

    import tests.imports.test_import_runs as module

    module.slow_import = slow
    register("test-slow", "Slow", (".slow",), "tests.imports.test_import_runs.slow_import")
    try:
        run = ImportRun(programme=programme, kind="test-slow", file_name="a.slow")
        run.file.save("a.slow", io.BytesIO(b"x"), save=False)
        run.save()
        worker = threading.Thread(target=lambda: (run.execute(), connection.close()))
        worker.start()
        assert halfway.wait(20)
        seen = ImportRun.objects.get(pk=run.pk).status_dict()
        assert (seen["status"], seen["done"], seen["total"], seen["label"], seen["percent"]) == (
            "running", 1, 2, "halfway", 50)
        assert Context.objects.get(slug="c1").name == "One"  # the import's writes are not visible yet
        finish.set()
        worker.join(20)
        seen = ImportRun.objects.get(pk=run.pk).status_dict()
        assert (seen["status"], seen["done"], seen["total"]) == ("done", 2, 2)
        assert Context.objects.get(slug="c1").name == "Renamed"
    finally:
        finish.set()
        IMPORTERS.pop("test-slow")


def test_progress_is_visible_on_a_sqlite_file(tmp_path):
    """The same on a SQLite file database (the quick start's), in a process of its own
    (tests/imports/sqlite_progress_probe.py): the run's row and progress are read while the import
    holds SQLite's write lock."""
    import os
    import subprocess
    import sys

    probe = os.path.join(os.path.dirname(__file__), "sqlite_progress_probe.py")
    root = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TASKS_BACKEND")}
    result = subprocess.run([sys.executable, probe, str(tmp_path / "db.sqlite3"), str(tmp_path / "media"),
                             str(tmp_path / "progress")], cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines() == [
        "while running: {'status': 'running', 'done': 1, 'total': 2, 'label': 'halfway'}",
        "after: {'status': 'done', 'done': 2, 'total': 2}"]
