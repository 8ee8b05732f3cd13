"""Write the knowledge base as a REFI-QDA project (.qdpx) or codebook (.qdc) for QDA tools."""

import os
import tempfile

from django.core.management.base import BaseCommand, CommandError

from evidence import refi_qda


class Command(BaseCommand):
    help = (
        "Export the knowledge base for NVivo, ATLAS.ti, MAXQDA, QualCoder and other REFI-QDA tools: a "
        ".qdpx project (codebook, sources with coded excerpts, cases, notes), or with --codebook-only a "
        ".qdc codebook. Published configurations only unless --include-drafts; every programme unless --programme."
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
        parser.add_argument(
            "--programme", action="append", default=[], metavar="SLUG",
            help="Export this programme (repeat for several; default: every programme, private ones too). "
            "The project's name and description say which programmes it holds.",
        )

    def handle(self, *args, output, codebook_only, include_drafts, internal_notes, programme, **options):
        from projects.models import Programme

        asked = list(dict.fromkeys(slug.strip() for value in programme for slug in value.split(",") if slug.strip()))
        programmes = None
        if asked:
            known = set(Programme.objects.filter(slug__in=asked).values_list("slug", flat=True))
            missing = [slug for slug in asked if slug not in known]
            if missing:
                accepted = ", ".join(Programme.objects.order_by("slug").values_list("slug", flat=True)) or "(none)"
                raise CommandError(f"Unknown programme {', '.join(repr(m) for m in missing)}. Accepted: {accepted}.")
            programmes = Programme.objects.filter(slug__in=asked)
        path = os.path.abspath(output)
        directory = os.path.dirname(path)
        if os.path.isdir(path):
            raise CommandError(f"Cannot write {output}: it is a directory; give a file name.")
        if os.path.exists(directory) and not os.path.isdir(directory):
            raise CommandError(f"Cannot write {output}: {directory} is not a folder.")
        if not os.path.isdir(directory):
            raise CommandError(f"Cannot write {output}: the folder {directory} does not exist.")
        options = {"include_drafts": include_drafts, "internal_notes": internal_notes, "programmes": programmes}
        if codebook_only:
            chunks = [refi_qda.export_codebook(**options)]
        else:
            # The download's stream, written as it comes: memory stays bounded whatever the size.
            chunks = refi_qda.iter_qdpx(**options)
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
        scope += f"; programme{'s' if len(asked) != 1 else ''} {', '.join(asked)}" if asked else ""
        self.stdout.write(f"Wrote REFI-QDA {kind} ({scope}) to {output}: {size:,} bytes.")
