"""manage.py import_refi_qda PATH --programme SLUG [--dry-run] [--offsets codepoints|utf16] [--user USERNAME]:
a REFI-QDA project (.qdpx) or codebook (.qdc) into a programme (evidence/refi_qda_import.py)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from evidence.refi_qda_import import OFFSETS, import_refi_qda
from projects.membership import ProgrammeWriteRefused
from projects.models import Programme


class Command(BaseCommand):
    help = ("Import a REFI-QDA project (.qdpx) or codebook (.qdc) written by NVivo, ATLAS.ti, MAXQDA, QualCoder, "
            "Taguette or CMO KB into a programme: codes, sources, selections as excerpts, codings, cases as teams, "
            "notes as memos, links as relations. Any error: nothing is written, and every error is listed.")

    def add_arguments(self, parser):
        parser.add_argument("path", help="The .qdpx or .qdc file.")
        parser.add_argument("--programme", required=True, help="Slug of the programme to import into.")
        parser.add_argument("--dry-run", action="store_true", help="Check and report; write nothing.")
        parser.add_argument("--offsets", choices=OFFSETS, default="codepoints",
                            help="How the project counts selection positions: codepoints (characters, REFI-QDA's "
                            "rule; the default) or utf16 (UTF-16 units: a character outside the Basic Multilingual "
                            "Plane, such as an emoji, counts two).")
        parser.add_argument("--user", help="Import as this user (checked as a writer of the programme, recorded in "
                            "history); default: the server operator.")

    def handle(self, path, programme, dry_run, offsets, user, **options):
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
            report = import_refi_qda(path, found, user=account, dry_run=dry_run, offsets=offsets)
        except FileNotFoundError:
            raise CommandError(f"No file '{path}'.") from None
        except IsADirectoryError:
            raise CommandError(f"'{path}' is a folder, not a .qdpx or .qdc file.") from None
        except ProgrammeWriteRefused as refusal:
            raise CommandError(refusal.message) from None
        lines = "\n".join(report.lines())
        if not report.ok:
            raise CommandError("\n" + lines)
        self.stdout.write(lines)
