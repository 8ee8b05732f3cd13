"""`manage.py import_source PATH --programme SLUG [--kind K] [--title T] [--dry-run]`: a document as a
source (evidence/document_import.py, the same function as the workbench's upload page and the API)."""

import os

from django.core.management.base import BaseCommand, CommandError

from evidence.document_import import import_document
from evidence.documents import EXTENSIONS, DocumentRefused
from projects.membership import ProgrammeWriteRefused


class Command(BaseCommand):
    help = (f"Create a source from a document ({', '.join(EXTENSIONS)}): its verbatim text, its headings as the "
            "outline and the original file. --dry-run shows what would be created and writes nothing.")

    def add_arguments(self, parser):
        parser.add_argument("path", help="The document to read.")
        parser.add_argument("--programme", required=True, help="Slug of the programme the source belongs to.")
        parser.add_argument("--kind", help="Slug of the source kind (default: evaluation-report).")
        parser.add_argument("--title", help="Title (default: the first heading, else the file name).")
        parser.add_argument("--dry-run", action="store_true", help="Read and check everything; write nothing.")
        parser.add_argument("--user", help="Import as this user (recorded in history, and held to the programme's "
                                           "write rule); default: the operator, with every right.")

    def handle(self, *args, path, programme, kind=None, title=None, dry_run=False, user=None, **options):
        if not os.path.exists(path):
            raise CommandError(f"No such file: {path}")
        if user is not None:
            from django.contrib.auth import get_user_model

            found = get_user_model().objects.filter(username=user).first()
            if found is None:
                raise CommandError(f"There is no user '{user}'.")
            user = found
        from evidence.import_runs import ImportRun
        from projects.models import Programme

        found = Programme.objects.filter(slug=programme).first()
        if found is None:
            raise CommandError(f"There is no programme '{programme}'.")
        try:
            # Recorded as an import run (evidence/import_runs.py), so `undo_import` undoes it.
            run, report = ImportRun.in_process(
                user=user, programme=found, kind="document", file_name=path, dry_run=dry_run,
                options={name: value for name, value in (("kind", kind), ("title", title)) if value},
                call=lambda: import_document(path, found, user=user, kind=kind, title=title, dry_run=dry_run))
        except FileNotFoundError:
            raise CommandError(f"No such file: {path}") from None
        except IsADirectoryError:
            raise CommandError(f"{path} is a directory, not a document.") from None
        except (DocumentRefused, ProgrammeWriteRefused) as exc:
            raise CommandError(exc.message) from None
        for line in report.lines():
            self.stdout.write(line)
        if report.document is not None and report.ok:
            for heading in report.document.outline:
                self.stdout.write(f"  heading {'  ' * (heading['level'] - 1)}{heading['title']} (at {heading['start']})")
        if not report.ok:
            raise CommandError(report.summary())
        if report.written:
            self.stdout.write(f"  source: {report.source.slug}")
            self.stdout.write(f"  import #{run.pk}: undo it with `manage.py undo_import {run.pk}`")
