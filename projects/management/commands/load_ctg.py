from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from projects.seed import SeedError, load


class Command(BaseCommand):
    help = (
        "Load the Closing the Gap knowledge base from fixtures/ctg/**/*.yaml (idempotent). "
        "Rows a curator changed since the last load are reported as conflicts and left alone "
        "unless --overwrite is given."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--overwrite", action="store_true",
            help="Replace curators' changes with the fixture values (they are still listed).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Report what would change; write nothing.")
        parser.add_argument(
            "--fixtures-dir", default=None,
            help="Folder holding ctg/ and sources/ (default: settings.CTG_FIXTURES_DIR).",
        )

    def handle(self, *args, overwrite=False, dry_run=False, fixtures_dir=None, **options):
        root = fixtures_dir or settings.CTG_FIXTURES_DIR
        try:
            result = load(root, overwrite=overwrite, dry_run=dry_run)
        except SeedError as exc:
            raise CommandError(
                f"load_ctg: {len(exc.problems)} problem(s) in the fixtures; nothing was written.\n"
                + "\n".join(f"  {problem}" for problem in exc.problems)
            ) from exc

        width = max([len(label) for label in result.counts] + [5])
        self.stdout.write(f"{'model'.ljust(width)}  created  updated  unchanged  conflicts")
        for label, c in result.counts.items():
            self.stdout.write(f"{label.ljust(width)}  {c.created:7}  {c.updated:7}  {c.unchanged:9}  {c.conflicts:9}")
        for conflict in result.conflicts:
            action = "overwritten with the fixture" if conflict.overwritten else "left as it is (use --overwrite to replace)"
            self.stdout.write(self.style.WARNING(
                f"conflict: {conflict.label} {conflict.slug}: changed since the last load "
                f"({', '.join(conflict.fields)}); {action}"
            ))
        t = result.totals
        summary = f"{t.created} created, {t.updated} updated, {t.unchanged} unchanged, {t.conflicts} conflicts"
        if dry_run:
            summary += " (dry run: nothing written)"
        self.stdout.write(self.style.SUCCESS(summary) if not t.conflicts else self.style.WARNING(summary))
