"""manage.py import_refi_qda PATH --programme SLUG [--dry-run] [--offsets codepoints|utf16] [--user USERNAME]:
a REFI-QDA project (.qdpx) or codebook (.qdc) into a programme (evidence/refi_qda_import.py)."""

from evidence.import_command import ImportCommand
from evidence.refi_qda_import import OFFSETS, import_refi_qda


class Command(ImportCommand):
    kind = "refi-qda"
    file_help = "The .qdpx or .qdc file."
    help = ("Import a REFI-QDA project (.qdpx) or codebook (.qdc) written by NVivo, ATLAS.ti, MAXQDA, QualCoder, "
            "Taguette or CMO KB into a programme: codes, sources, selections as excerpts, codings, cases as teams, "
            "notes as memos, links as relations. Any error: nothing is written, and every error is listed.")

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--offsets", choices=OFFSETS, default="codepoints",
                            help="How the project counts selection positions: codepoints (characters, REFI-QDA's "
                            "rule; the default) or utf16 (UTF-16 units: a character outside the Basic Multilingual "
                            "Plane, such as an emoji, counts two).")

    def import_options(self, options):
        return {"offsets": options["offsets"]}

    def run_import(self, path, programme, user, dry_run, options):
        return import_refi_qda(path, programme, user=user, dry_run=dry_run, **options)
