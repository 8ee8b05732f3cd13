"""manage.py import_configurations PATH --programme SLUG [--dry-run] [--create-terms] [--user USERNAME]:
CMO configurations from a .csv or .xlsx spreadsheet (mechanisms/configuration_import.py)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from mechanisms.configuration_import import import_configurations
from projects.membership import ProgrammeWriteRefused
from projects.models import Programme


class Command(BaseCommand):
    help = ("Import CMO configurations (one a row) from a .csv or .xlsx file into a programme, as drafts. "
            "Any error: nothing is written, and every error is listed.")

    def add_arguments(self, parser):
        parser.add_argument("path", help="The .csv (UTF-8) or .xlsx file.")
        parser.add_argument("--programme", required=True, help="Slug of the programme to import into.")
        parser.add_argument("--dry-run", action="store_true", help="Check and report; write nothing.")
        parser.add_argument("--create-terms", action="store_true",
                            help="Create the teams, contexts, mechanisms, themes and outcomes the file names "
                            "that the programme lacks (otherwise each is an error).")
        parser.add_argument("--user", help="Import as this user (checked as a writer of the programme, "
                            "recorded in history); default: the server operator.")

    def handle(self, path, programme, dry_run, create_terms, user, **options):
        found = Programme.objects.filter(slug=programme).first()
        if found is None:
            known = ", ".join(Programme.objects.order_by("slug").values_list("slug", flat=True))
            raise CommandError(f"No programme '{programme}'. Programmes: {known or 'none'}.")
        account = None
        if user:
            account = get_user_model().objects.filter(username=user, is_active=True).first()
            if account is None:
                raise CommandError(f"No active user '{user}'.")
        try:
            report = import_configurations(path, found, user=account, dry_run=dry_run, create_terms=create_terms)
        except FileNotFoundError:
            raise CommandError(f"No file '{path}'.") from None
        except ProgrammeWriteRefused as refusal:
            raise CommandError(refusal.message) from None
        lines = "\n".join(report.lines())
        if not report.ok:
            raise CommandError("\n" + lines)
        self.stdout.write(lines)
