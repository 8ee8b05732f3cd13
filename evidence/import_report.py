"""What an import did, or would do: one report shape for every import (documents, REFI-QDA projects,
CMO spreadsheets), whichever door it came through (a management command, the workbench, the API).

An import is a function ``write(report)`` that reads its file and writes rows through the ORM (so
every model rule, the publish lock and the programme rules are checked as on any other path),
noting each row with ``report.created`` / ``report.updated`` and each problem with
``report.error``. ``run_import`` runs it in one transaction and keeps the writes only when it is
not a dry run and no error was noted: a dry run executes exactly what the real run would (the same
checks, the same report) and rolls back, so what it shows is what a real run does. Nothing is ever
half-written.

History: every row written is recorded by django-simple-history as the importing user (``user``)
with the change reason ``import: <file name>`` (``history_reason``), or ``import #<run>: <file name>``
when the import runs as an ImportRun (evidence/import_runs.py), which is how a run is undone as one
step.

Progress: an importer calls ``report.progress(done, total)`` now and then (a row of a spreadsheet, a
step of a document); outside an ImportRun it costs one context-variable read.
"""

import contextlib
import contextvars
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction

HISTORY_REASON_MAX = 100  # simple-history's history_change_reason is a CharField(max_length=100)

# The ImportRun being executed in this thread (evidence/import_runs.py), or None: it gives the history
# reason its run number and receives the progress. A context variable, so the importers (and any new
# one) need no extra argument to be run in the background.
current_run = contextvars.ContextVar("current_import_run", default=None)


@dataclass(frozen=True)
class Problem:
    """Why a part of the file was refused: where (the file, with its row, element or line), which
    column or attribute, the value read there, and the reason."""

    where: str
    field: str
    value: str
    reason: str

    def __str__(self):
        what = f"{self.field} {self.value!r}" if self.field else repr(self.value) if self.value else ""
        return f"{self.where}: {what + ': ' if what else ''}{self.reason}"

    def as_dict(self):
        return {"where": self.where, "field": self.field, "value": self.value, "reason": self.reason}


@dataclass(frozen=True)
class Entry:
    """A row the import creates or updates: its kind (the model's verbose name) and its label."""

    action: str  # "created" or "updated"
    kind: str
    label: str
    where: str = ""

    def as_dict(self):
        return {"action": self.action, "kind": self.kind, "label": self.label, "where": self.where}


@dataclass
class ImportReport:
    file_name: str
    dry_run: bool = False
    entries: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    notes: list = field(default_factory=list)  # what was read but has no place in the knowledge base
    written: bool = False

    def created(self, kind, label, where=""):
        self.entries.append(Entry("created", str(kind), str(label), where))

    def updated(self, kind, label, where=""):
        self.entries.append(Entry("updated", str(kind), str(label), where))

    def error(self, where, field="", value="", reason=""):
        self.errors.append(Problem(str(where), str(field), "" if value is None else str(value), str(reason)))

    def note(self, text):
        self.notes.append(str(text))

    def progress(self, done, total, label=""):
        """How far the import is: ``done`` of ``total`` steps (rows, elements), ``label`` saying
        what is being read. Shown on the run's page; a no-op outside a background run."""
        run = current_run.get()
        if run is not None:
            run.progress(done, total, label)

    def validation_error(self, where, exc, fields=None):
        """Note a Django ValidationError as one problem per field message (``fields`` maps a model
        field to the column or attribute it came from, and the value read there)."""
        fields = fields or {}
        for name, messages in getattr(exc, "message_dict", {"": exc.messages}).items():
            column, value = fields.get(name, (name if name != "__all__" else "", ""))
            for message in messages:
                self.error(where, column, value, message)

    @property
    def ok(self):
        return not self.errors

    def counts(self):
        """{(action, kind): n}, in the order first met."""
        counts = {}
        for entry in self.entries:
            counts[entry.action, entry.kind] = counts.get((entry.action, entry.kind), 0) + 1
        return counts

    def summary(self):
        parts = [f"{n} {kind} {action}" for (action, kind), n in self.counts().items()]
        state = ("Dry run: nothing was written" if self.dry_run
                 else "Written" if self.written else "Refused: nothing was written")
        errors = f"{len(self.errors)} error{'s' if len(self.errors) != 1 else ''}"
        return f"{self.file_name}: {state}. {', '.join(parts) or 'nothing to write'}; {errors}."

    def lines(self):
        """The report as text lines (for a management command's output)."""
        yield self.summary()
        for problem in self.errors:
            yield f"  error: {problem}"
        for text in self.notes:
            yield f"  note: {text}"

    def as_dict(self):
        return {
            "file": self.file_name,
            "dry_run": self.dry_run,
            "written": self.written,
            "counts": [{"action": action, "kind": kind, "count": n} for (action, kind), n in self.counts().items()],
            "entries": [entry.as_dict() for entry in self.entries],
            "errors": [problem.as_dict() for problem in self.errors],
            "notes": list(self.notes),
        }


class ImportRefused(Exception):
    """An import found errors (or was a dry run): nothing was written. ``report`` says why."""

    def __init__(self, report):
        super().__init__(report.summary())
        self.report = report


def history_reason(file_name):
    """The change reason of every history record an import writes: ``import #<run id>: <file>``
    inside an ImportRun (what its undo looks for), else ``import: <file>``."""
    run = current_run.get()
    prefix = f"import #{run.pk}" if run is not None else "import"
    return f"{prefix}: {file_name}"[:HISTORY_REASON_MAX]


def run_import(write, report, user=None):
    """Run ``write(report)`` in one transaction as ``user`` (None: the operator, as in a management
    command) and keep its writes only when it is a real run without errors. Returns the report;
    ``report.written`` says whether anything was kept. A ValidationError that ``write`` lets out is
    noted as an error of the file (the import stops there; nothing is written)."""
    from mechanisms.publish_lock import acting_as

    actor = acting_as(user) if user is not None else contextlib.nullcontext()
    with actor, _history_user(user), transaction.atomic():
        try:
            with transaction.atomic():
                write(report)
        except ValidationError as exc:
            report.validation_error(report.file_name, exc)
        if report.errors or report.dry_run:
            transaction.set_rollback(True)
            report.written = False
        else:
            report.written = True
    return report


@contextlib.contextmanager
def _history_user(user):
    """simple-history records the request's user; outside a request (a command, a background task)
    it records the one given here."""
    from simple_history.models import HistoricalRecords

    context = HistoricalRecords.context
    had_request = hasattr(context, "request")
    if user is None or had_request:
        yield
        return
    context.request = _UserOnly(user)
    try:
        yield
    finally:
        del context.request


class _UserOnly:
    def __init__(self, user):
        self.user = user
