"""Imports in the background (issue 12): an ImportRun is one import of one file into one programme,
by one user, a dry run or a real one, run by a django-tasks task and kept with its report, so the user
can come back to its page; a real run can be undone as one step.

Importers are named in a registry (IMPORTERS, filled by ``register``): a kind, the file extensions it
reads, the options it accepts and the function ``f(file, programme, user=None, dry_run=False,
**options)`` that returns an ImportReport. A new importer plugs in with one ``register(...)`` line.

Progress: the import runs in one transaction (evidence/import_report.run_import). On SQLite that
transaction holds the database's write lock (BEGIN IMMEDIATE) until it ends, so no other connection
can write a progress row meanwhile, and on PostgreSQL a row written by the import's own connection is
invisible until it commits. Progress therefore goes to a cache of its own (settings.CACHES
["import_progress"]: files in a folder by default, shared by the web and worker processes of one host
and needing no service; Redis or Memcached with IMPORT_PROGRESS_CACHE_URL), and onto the run's row
when the run ends.

Undo: every history record an import writes carries ``import #<run id>: <file>`` as its change reason
(import_report.history_reason). ``ImportRun.undo(user)`` finds them in every history table, deletes
the rows the run created (latest first, so dependents go before what they depend on) and restores the
rows it updated, in one transaction, as the undoing user with the reason ``undo import #<id>``. It is
refused, with nothing changed, when a row was changed after the import by something else.
"""

import importlib
import logging
import os
import time
import traceback
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import models, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django_tasks import task  # Django 6: django.tasks

from .import_report import ImportReport, current_run

logger = logging.getLogger(__name__)

PROGRESS_CACHE = "import_progress"
PROGRESS_EVERY = 0.5  # seconds between two progress writes of one run (the last step is always written)


# --- The registry of importers ------------------------------------------------------------------


@dataclass(frozen=True)
class Importer:
    kind: str
    label: str
    extensions: tuple
    function: str  # dotted path, imported when a run needs it
    options: dict = field(default_factory=dict)  # option name -> help text

    def load(self):
        module, _, name = self.function.rpartition(".")
        return getattr(importlib.import_module(module), name)


IMPORTERS = {}


def register(kind, label, extensions, function, options=None):
    IMPORTERS[kind] = Importer(kind, label, tuple(extensions), function, dict(options or {}))


register("document", "Document", (".txt", ".md", ".markdown", ".docx", ".odt", ".pdf", ".html", ".htm", ".rtf"),
         "evidence.document_import.import_document",
         {"kind": "The source kind's slug (default: evaluation-report).",
          "title": "The source's title (default: the first heading, else the file name)."})
register("configurations", "CMO spreadsheet", (".csv", ".xlsx"), "mechanisms.configuration_import.import_configurations",
         {"create_terms": "true: create the vocabulary terms the file names that the programme lacks."})
register("refi-qda", "REFI-QDA project or codebook", (".qdpx", ".qdc"), "evidence.refi_qda_import.import_refi_qda",
         {"offsets": "codepoints (default) or utf16: how the project counts characters."})


def importer_for(file_name, kind=None):
    """The Importer of ``kind``, or of the file's extension; None if there is none."""
    if kind:
        return IMPORTERS.get(kind)
    extension = os.path.splitext(file_name or "")[1].lower()
    return next((importer for importer in IMPORTERS.values() if extension in importer.extensions), None)


# --- The run ------------------------------------------------------------------------------------


class ImportRunQuerySet(models.QuerySet):
    def visible_to(self, user):
        """The user's own runs, and the runs of the programmes they write in (leads and evaluators
        see their colleagues' imports there). Superusers see every run."""
        from projects.membership import writable_programmes

        if user.is_superuser:
            return self
        return self.filter(models.Q(user=user) | models.Q(programme__in=writable_programmes(user).values("pk")))


class UndoRefused(Exception):
    """An undo that changed nothing: ``message`` says why, ``rows`` which rows stand in the way."""

    def __init__(self, message, rows=()):
        super().__init__(message)
        self.message = message
        self.rows = list(rows)


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "queued"
    RUNNING = "running", "running"
    DONE = "done", "done"
    REFUSED = "refused", "refused"
    FAILED = "failed", "failed"
    UNDONE = "undone", "undone"


class ImportRun(models.Model):
    Status = ImportStatus

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="import_runs", help_text="Who imports (empty: the operator, by a command).")
    programme = models.ForeignKey("projects.Programme", on_delete=models.CASCADE, related_name="import_runs")
    kind = models.CharField(max_length=40, help_text="The importer: document, configurations, refi-qda.")
    file = models.FileField(upload_to="imports/%Y/%m/", blank=True,
                            help_text="The uploaded file, kept until the run is done (a dry run's until it is "
                            "confirmed, or for a day).")
    file_name = models.CharField(max_length=255)
    options = models.JSONField(default=dict, blank=True)
    dry_run = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status, default=Status.QUEUED)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    report = models.JSONField(null=True, blank=True, help_text="ImportReport.as_dict() once the run has ended.")
    message = models.TextField(blank=True, help_text="Why the run failed, or why its undo was refused.")
    confirms = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="confirmed_by",
                                 help_text="The dry run this real run confirms.")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")

    objects = ImportRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "import"
        verbose_name_plural = "imports"
        indexes = [models.Index(fields=["user", "-created_at"], name="importrun_user_recent")]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=ImportStatus.values), name="importrun_status_known"),
            models.CheckConstraint(condition=~models.Q(status="undone", dry_run=True), name="importrun_dry_run_not_undone"),
        ]

    def __str__(self):
        return f"import #{self.pk}: {self.file_name}{' (dry run)' if self.dry_run else ''}"

    @property
    def importer(self):
        return IMPORTERS.get(self.kind)

    @property
    def ended(self):
        return self.status not in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def written(self):
        return bool(self.report and self.report.get("written"))

    @property
    def history_prefix(self):
        return f"import #{self.pk}:"

    # --- starting and running

    @classmethod
    def start(cls, *, user, programme, file, kind=None, dry_run=False, options=None, confirms=None):
        """Create a queued run of ``file`` (an uploaded file, or (name, bytes)) and enqueue its task.
        Returns the run (already ended where the tasks backend runs tasks immediately)."""
        if isinstance(file, tuple):
            name, data = file
            file = ContentFile(data, name=name)
        name = PurePath(getattr(file, "name", "") or "upload").name
        importer = importer_for(name, kind)
        if importer is None:
            raise ValueError(f"No importer for {kind or name!r}.")
        run = cls(user=user if getattr(user, "is_authenticated", False) else None, programme=programme,
                  kind=importer.kind, file_name=name[:255], options=dict(options or {}), dry_run=dry_run,
                  confirms=confirms)
        cls.forget_unconfirmed()
        run.file.save(name, file, save=False)
        run.save()
        run.enqueue()
        run.refresh_from_db()
        return run

    @classmethod
    def in_process(cls, *, user, programme, kind, file_name, dry_run, options, call):
        """A run made here and now by a management command: ``call()`` imports (as the command's
        user) and returns its ImportReport; the run records it like a background one, its history
        reason is the run's, so `undo_import` undoes it. Returns (run, report)."""
        run = cls.objects.create(user=user, programme=programme, kind=kind, file_name=PurePath(file_name).name[:255],
                                 options=dict(options or {}), dry_run=dry_run, status=cls.Status.RUNNING,
                                 started_at=timezone.now())
        token = current_run.set(_RunContext(run))
        try:
            report = call()
        except BaseException:
            # Refused before any report (an unreadable file, a user who may not write there): the
            # command says why; nothing was written, so there is no run to keep.
            cls.objects.filter(pk=run.pk).delete()
            raise
        finally:
            current_run.reset(token)
        run.report = report.as_dict()
        run.status = cls.Status.DONE if report.ok else cls.Status.REFUSED
        run.finished_at = timezone.now()
        run.save(update_fields=["report", "status", "finished_at"])
        return run, report

    @classmethod
    def forget_unconfirmed(cls, age=timedelta(days=1)):
        """Delete the files of dry runs nobody confirmed within ``age`` (their reports stay); a query,
        and one delete a file. Called whenever a run starts."""
        for run in cls.objects.filter(dry_run=True, finished_at__lt=timezone.now() - age).exclude(file=""):
            run.file.delete(save=False)
            cls.objects.filter(pk=run.pk).update(file="")

    def enqueue(self):
        run_import_task.enqueue(self.pk)

    def confirm(self, user):
        """A real run of this dry run's file and options (the file passes to the new run)."""
        if not self.dry_run or self.status != self.Status.DONE or not self.file:
            raise ValueError("Only a dry run that ended without errors can be confirmed, once.")
        run = ImportRun(user=user, programme=self.programme, kind=self.kind, file=self.file.name,
                        file_name=self.file_name, options=self.options, dry_run=False, confirms=self)
        run.save()
        ImportRun.objects.filter(pk=self.pk).update(file="")
        run.enqueue()
        run.refresh_from_db()
        return run

    def execute(self):
        """Run the import (the task's body). Claims the run first, so two workers never run one."""
        claimed = ImportRun.objects.filter(pk=self.pk, status=self.Status.QUEUED).update(
            status=self.Status.RUNNING, started_at=timezone.now())
        if not claimed:
            return
        self.refresh_from_db()
        caches_progress().delete(self._progress_key())  # a stale key of a database reset since
        token = current_run.set(_RunContext(self))
        report, status, message = None, self.Status.FAILED, ""
        try:
            report = self._import()
            status = self.Status.DONE if report.ok else self.Status.REFUSED
        except Exception as exc:  # a bug or a lost file: the run says so instead of staying "running"
            logger.exception("import #%s failed", self.pk)
            message = f"{type(exc).__name__}: {exc}"
            report = ImportReport(self.file_name, dry_run=self.dry_run)
            report.error(self.file_name, "", "", "the import stopped on an unexpected error; nothing was written")
            traceback.clear_frames(exc.__traceback__)
        finally:
            current_run.reset(token)
        progress = caches_progress().get(self._progress_key()) or {}
        self.report = report.as_dict()
        self.status, self.message, self.finished_at = status, message, timezone.now()
        self.total = max(progress.get("total", 0), self.total)
        self.done = self.total if status == self.Status.DONE else progress.get("done", 0)
        keep_file = self.dry_run and status == self.Status.DONE  # waits for its confirmation
        if not keep_file and self.file:
            self.file.delete(save=False)
        self.save()
        caches_progress().delete(self._progress_key())

    def _import(self):
        from projects.membership import ProgrammeWriteRefused

        from .documents import DocumentRefused

        importer = self.importer
        if importer is None:
            raise ValueError(f"No importer {self.kind!r} is registered.")
        with self.file.open("rb") as handle:
            data = handle.read()
        options = {name: value for name, value in self.options.items() if name in importer.options}
        try:
            return importer.load()(ContentFile(data, name=self.file_name), self.programme, user=self.user,
                                   dry_run=self.dry_run, **options)
        except (DocumentRefused, ProgrammeWriteRefused) as refused:
            report = ImportReport(self.file_name, dry_run=self.dry_run)
            report.error(self.file_name, getattr(refused, "field", "programme"), "", refused.message)
            return report

    # --- progress

    def _progress_key(self):
        return f"import-run:{self.pk}"

    def live_progress(self):
        """(done, total, label): from the progress cache while the run runs, else from the row."""
        if self.status == self.Status.RUNNING:
            progress = caches_progress().get(self._progress_key())
            if progress:
                return progress["done"], progress["total"], progress.get("label", "")
        return self.done, self.total, ""

    def status_dict(self):
        done, total, label = self.live_progress()
        return {
            "id": self.pk, "status": self.status, "kind": self.kind, "file": self.file_name, "dry_run": self.dry_run,
            "programme": self.programme.slug if self.programme_id else None,
            "user": self.user.username if self.user_id else None,
            "done": done, "total": total, "label": label,
            "percent": 100 if self.ended and self.status != self.Status.FAILED else (
                int(100 * done / total) if total else 0),
            "ended": self.ended, "written": self.written, "message": self.message,
            "created_at": self.created_at, "started_at": self.started_at, "finished_at": self.finished_at,
            "undone_at": self.undone_at,
        }

    # --- undo

    def may_confirm(self, user):
        """Whether ``user`` may confirm this dry run: its owner, still writing in the programme."""
        from projects.membership import can_write

        return user is not None and user.is_authenticated and user.pk == self.user_id and can_write(user, self.programme)

    def may_undo(self, user):
        """Whether ``user`` may ask for this run's undo: its owner, or a lead of its programme."""
        from projects.membership import can_publish, can_write

        if user is None or not user.is_authenticated:
            return False
        return can_publish(user, self.programme) or (user.pk == self.user_id and can_write(user, self.programme))

    def history_records(self):
        """[(model, historical records the run wrote, oldest first)] of every history table (a query
        each)."""
        from simple_history.models import registered_models

        found = []
        for model in registered_models.values():
            # (m2m through tables are registered too; their rows go with their owner's)
            manager = getattr(model, getattr(model._meta, "simple_history_manager_attribute", ""), None)
            history = getattr(manager, "model", None)
            if history is None:
                continue
            records = list(history.objects.filter(history_change_reason__startswith=self.history_prefix)
                           .order_by("history_date", "history_id"))
            if records:
                found.append((model, records))
        return found

    def undo(self, user):
        """Reverse this run in one transaction as ``user``. Raises UndoRefused (nothing changed)."""
        from mechanisms.publish_lock import acting_as

        from .import_report import _history_user

        if not self.may_undo(user):
            raise UndoRefused("Only the user who imported the file, or a lead evaluator of the programme "
                              f"'{self.programme.slug}', can undo this import.")
        reason = f"undo import #{self.pk}"
        try:
            with acting_as(user), _history_user(user), transaction.atomic():
                run = ImportRun.objects.select_for_update().get(pk=self.pk)
                if run.status == self.Status.UNDONE:
                    raise UndoRefused(f"Import #{self.pk} was already undone.")
                if run.dry_run or run.status != self.Status.DONE or not run.written:
                    raise UndoRefused(f"Import #{self.pk} wrote nothing: there is nothing to undo.")
                created, updated, conflicts = self._plan()
                if conflicts:
                    raise UndoRefused(
                        f"Import #{self.pk} cannot be undone: {len(conflicts)} row"
                        f"{'s were' if len(conflicts) != 1 else ' was'} changed after it. Nothing was changed.",
                        conflicts)
                files = []
                for model, record in sorted(created, key=lambda pair: pair[1].history_date, reverse=True):
                    instance = model._base_manager.filter(pk=record.instance.pk).first()
                    if instance is None:  # gone with a row deleted before it (a cascade)
                        continue
                    files += [getattr(instance, f.attname) for f in model._meta.fields
                              if isinstance(f, models.FileField) and getattr(instance, f.attname)]
                    instance._change_reason = reason
                    instance.delete()
                for model, record in updated:
                    self._restore(model, record, reason)
                run.status, run.undone_at, run.undone_by = self.Status.UNDONE, timezone.now(), user
                run.save(update_fields=["status", "undone_at", "undone_by"])
                transaction.on_commit(lambda: _delete_files(files))
        except (ProtectedError, ValidationError, PermissionDenied) as refused:
            message = getattr(refused, "message", None) or "; ".join(getattr(refused, "messages", [])) or str(refused)
            raise UndoRefused(f"Import #{self.pk} cannot be undone: {message}. Nothing was changed.") from refused
        self.refresh_from_db()

    def _plan(self):
        """([(model, first record)] of created rows, [(model, first record)] of updated rows, conflicts)."""
        created, updated, conflicts = [], [], []
        for model, records in self.history_records():
            history = getattr(model, model._meta.simple_history_manager_attribute).model
            pk_name = model._meta.pk.attname
            first_of = {}
            for record in records:
                first_of.setdefault(getattr(record, pk_name), record)
            for pk, first in first_of.items():
                latest = history.objects.filter(**{pk_name: pk}).order_by("-history_date", "-history_id").first()
                if latest is not None and not (latest.history_change_reason or "").startswith(self.history_prefix):
                    who = latest.history_user.get_username() if latest.history_user_id else "the operator"
                    action = {"+": "created", "~": "changed", "-": "deleted"}.get(latest.history_type, "changed")
                    conflicts.append(f"{model._meta.verbose_name} “{_label(latest)}”: {action} by {who} "
                                     f"on {timezone.localtime(latest.history_date):%Y-%m-%d %H:%M}"
                                     + (f" ({latest.history_change_reason})" if latest.history_change_reason else ""))
                elif first.history_type == "+":
                    created.append((model, first))
                else:
                    updated.append((model, first))
        if not conflicts:
            conflicts = self._dependents(created)
        return created, updated, conflicts

    @staticmethod
    def _dependents(created):
        """Rows that deleting the created rows would take with them (or that protect them) but the run
        did not create: added after the import, they would be lost silently."""
        from django.db import router
        from django.db.models.deletion import Collector

        ours = {(model._meta.concrete_model, record.instance.pk) for model, record in created}
        conflicts = []
        for model, record in created:
            instance = model._base_manager.filter(pk=record.instance.pk).first()
            if instance is None:
                continue
            collector = Collector(using=router.db_for_write(model))
            try:
                collector.collect([instance])
            except ProtectedError as protected:
                others = protected.protected_objects
            else:
                others = [obj for dependent, objs in collector.data.items() for obj in objs]
            for obj in others:
                if (type(obj)._meta.concrete_model, obj.pk) not in ours:
                    conflicts.append(f"{obj._meta.verbose_name} “{obj}”: added after the import; it depends on "
                                     f"{model._meta.verbose_name} “{instance}”")
        return list(dict.fromkeys(conflicts))

    @staticmethod
    def _restore(model, first, reason):
        """Put back the row's tracked fields as they were before the run's first change of it."""
        before = first.prev_record
        if before is None:
            return
        instance = model._base_manager.filter(pk=first.instance.pk).first() or before.instance
        tracked = {f.attname for f in before._meta.fields}
        for model_field in model._meta.concrete_fields:
            if model_field.attname in tracked and not model_field.primary_key:
                setattr(instance, model_field.attname, getattr(before, model_field.attname))
        instance._change_reason = reason
        instance.save()


def _label(record):
    try:
        return str(record.instance)
    except Exception:  # a record whose related rows are gone
        return f"#{record.pk}"


def _delete_files(names):
    for name in names:
        try:
            name.storage.delete(name.name)
        except Exception:  # a file already gone is not worth failing an undo for
            logger.warning("could not delete %s after an undo", name)


class _RunContext:
    """What the importers see of the run being executed (import_report.current_run)."""

    def __init__(self, run):
        self.pk = run.pk
        self.run = run
        self.last = 0.0

    def progress(self, done, total, label=""):
        now = time.monotonic()
        if done < total and now - self.last < PROGRESS_EVERY:
            return
        self.last = now
        caches_progress().set(f"import-run:{self.pk}", {"done": int(done), "total": int(total), "label": str(label)},
                              timeout=24 * 3600)


def caches_progress():
    from django.core.cache import caches

    return caches[PROGRESS_CACHE]


@task()
def run_import_task(run_id):
    """The background task: execute the ImportRun ``run_id`` (the db_worker runs it; tests run it at once)."""
    run = ImportRun.objects.filter(pk=run_id).first()
    if run is not None:
        run.execute()
