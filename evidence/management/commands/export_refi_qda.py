"""Write the knowledge base as a REFI-QDA project (.qdpx) or codebook (.qdc) for QDA tools."""

import os
import tempfile

from django.core.management.base import BaseCommand, CommandError

from evidence import refi_qda


class Command(BaseCommand):
    help = (
        "Export the knowledge base for NVivo, ATLAS.ti, MAXQDA, QualCoder and other REFI-QDA tools: a "
        ".qdpx project (codebook, sources with coded excerpts, cases, notes), or with --codebook-only a "
        ".qdc codebook. Published configurations only unless --include-drafts."
    )

    def add_arguments(self, parser):
        parser.add_argument("--output", required=True, metavar="PATH", help="File to write (e.g. cmo-kb.qdpx).")
        parser.add_argument("--codebook-only", action="store_true", help="Write a .qdc codebook, not a project.")
        parser.add_argument(
            "--include-drafts", action="store_true", help="Also export draft and in-review configurations."
        )
        parser.add_argument(
            "--internal-notes", action="store_true",
            help="Also export the curators' internal notes (configuration and excerpt notes): for evaluators only.",
        )

    def handle(self, *args, output, codebook_only, include_drafts, internal_notes, **options):
        path = os.path.abspath(output)
        directory = os.path.dirname(path)
        if os.path.isdir(path):
            raise CommandError(f"Cannot write {output}: it is a directory; give a file name.")
        if os.path.exists(directory) and not os.path.isdir(directory):
            raise CommandError(f"Cannot write {output}: {directory} is not a folder.")
        if not os.path.isdir(directory):
            raise CommandError(f"Cannot write {output}: the folder {directory} does not exist.")
        if codebook_only:
            chunks = [refi_qda.export_codebook(include_drafts=include_drafts, internal_notes=internal_notes)]
        else:
            # The download's stream, written as it comes: memory stays bounded whatever the size.
            chunks = refi_qda.iter_qdpx(include_drafts=include_drafts, internal_notes=internal_notes)
        size = 0
        # Written beside the target and renamed into place, so a failure never leaves half a file.
        try:
            handle, temporary = tempfile.mkstemp(prefix=".export-", dir=directory)
        except OSError as exc:
            raise CommandError(f"Cannot write {output}: {exc.strerror or exc}.") from exc
        try:
            with os.fdopen(handle, "wb") as stream:
                for chunk in chunks:
                    stream.write(chunk)
                    size += len(chunk)
            os.chmod(temporary, 0o644)
            os.replace(temporary, path)
        except OSError as exc:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise CommandError(f"Cannot write {output}: {exc.strerror or exc}.") from exc
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
        kind = "codebook" if codebook_only else "project"
        scope = "with drafts" if include_drafts else "published configurations only"
        if internal_notes:
            scope += ", with internal notes"
        self.stdout.write(f"Wrote REFI-QDA {kind} ({scope}) to {output}: {size:,} bytes.")
