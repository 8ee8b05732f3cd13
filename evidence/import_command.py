"""What the import commands share (import_refi_qda, import_configurations): the file, the programme,
--dry-run and --user, every refusal as a CommandError naming what is wrong (exit status 1, nothing
written), and the run recorded as an import (evidence/import_runs.py ImportRun.in_process), so
`manage.py undo_import <id>` undoes a command's import as it undoes one from the workbench."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from projects.membership import ProgrammeWriteRefused
from projects.models import Programme


class ImportCommand(BaseCommand):
    kind = None  # the importer's name in evidence/import_runs.py
    file_help = "The file."

    def add_arguments(self, parser):
        parser.add_argument("path", help=self.file_help)
        parser.add_argument("--programme", required=True, help="Slug of the programme to import into.")
        parser.add_argument("--dry-run", action="store_true", help="Check and report; write nothing.")
        parser.add_argument("--user", help="Import as this user (checked as a writer of the programme, recorded in "
                            "history); default: the server operator.")

    def import_options(self, options):
        """The importer's own options, from the command's."""
        return {}

    def run_import(self, path, programme, user, dry_run, options):
        """Import ``path`` (the importer function's call); returns the ImportReport."""
        raise NotImplementedError

    def handle(self, path, programme, dry_run, user, **options):
        from evidence.import_runs import ImportRun

        found = Programme.objects.filter(slug=programme).first()
        if found is None:
            known = ", ".join(Programme.objects.order_by("slug").values_list("slug", flat=True))
            raise CommandError(f"No programme '{programme}'. Programmes: {known or 'none'}.")
        account = None
        if user:
            account = get_user_model().objects.filter(username=user, is_active=True).first()
            if account is None:
                raise CommandError(f"No active user '{user}'.")
        own = self.import_options(options)
        try:
            run, report = ImportRun.in_process(
                user=account, programme=found, kind=self.kind, file_name=str(path), dry_run=dry_run, options=own,
                call=lambda: self.run_import(path, found, account, dry_run, own))
        except FileNotFoundError:
            raise CommandError(f"No file '{path}'.") from None
        except IsADirectoryError:
            raise CommandError(f"'{path}' is a folder, not a file to import.") from None
        except ProgrammeWriteRefused as refusal:
            raise CommandError(refusal.message) from None
        lines = "\n".join(report.lines())
        if not report.ok:
            raise CommandError("\n" + lines)
        self.stdout.write(lines)
        if report.written:
            self.stdout.write(f"  import #{run.pk}: undo it with `manage.py undo_import {run.pk}`")
