"""manage.py import_configurations PATH --programme SLUG [--dry-run] [--create-terms] [--user USERNAME]:
CMO configurations from a .csv or .xlsx spreadsheet (mechanisms/configuration_import.py)."""

from evidence.import_command import ImportCommand
from mechanisms.configuration_import import import_configurations


class Command(ImportCommand):
    kind = "configurations"
    file_help = "The .csv (UTF-8) or .xlsx file."
    help = ("Import CMO configurations (one a row) from a .csv or .xlsx file into a programme, as drafts. "
            "Any error: nothing is written, and every error is listed.")

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--create-terms", action="store_true",
                            help="Create the teams, contexts, mechanisms, themes and outcomes the file names "
                            "that the programme lacks (otherwise each is an error).")

    def import_options(self, options):
        return {"create_terms": options["create_terms"]}

    def run_import(self, path, programme, user, dry_run, options):
        return import_configurations(path, programme, user=user, dry_run=dry_run, **options)
