"""Import a document as a source: the one function behind the three doors (`manage.py import_source`,
the workbench's "Upload a document" page, POST /api/sources/upload/).

It reads the file (evidence/documents.py), then writes the Source through the ORM inside
evidence/import_report.run_import, so the programme write rule, the model's rules and history work
as on any other path, and a dry run does exactly what the real run would and rolls it back. The
original file is stored under MEDIA_ROOT only when the source is kept: a refusal, a dry run or an
error anywhere leaves neither a row nor a file behind.
"""

import os
from dataclasses import dataclass
from pathlib import PurePath

from django.core.files.base import ContentFile
from django.utils.text import slugify

from evidence.documents import DocumentRefused, extract, max_bytes
from evidence.import_report import ImportReport, history_reason, run_import
from evidence.models import Source, SourceKind
from projects.membership import refuse_unless_writer
from projects.models import Programme

DEFAULT_KIND = "evaluation-report"
# /api/sources/upload/ and /api/sources/export/ are the router's own: a source slugged so would have
# no address of its own.
RESERVED_SLUGS = {"upload", "export"}
SLUG_MAX = 120


@dataclass
class DocumentImportReport(ImportReport):
    """The shared report, plus what a preview shows: the document read and the source built."""

    document: object = None
    source: object = None


def _read(file):
    """(bytes, name) of a path, an uploaded file or (name, bytes)."""
    if isinstance(file, tuple):
        return file[1], file[0]
    if isinstance(file, (str, PurePath)):
        path = PurePath(file)
        size = os.path.getsize(path)
        if size > max_bytes():  # refused before a large file is read into memory
            raise DocumentRefused(f"“{path.name}” is {size:,} bytes, larger than the limit of {max_bytes():,} bytes "
                                  "(SOURCE_UPLOAD_MAX_BYTES).")
        with open(path, "rb") as handle:
            return handle.read(), path.name
    size = getattr(file, "size", None)
    name = PurePath(getattr(file, "name", "") or "").name
    if size is not None and size > max_bytes():
        raise DocumentRefused(f"“{name}” is {size:,} bytes, larger than the limit of {max_bytes():,} bytes "
                              "(SOURCE_UPLOAD_MAX_BYTES).")
    if hasattr(file, "seek"):
        file.seek(0)
    return file.read(), name


def _programme(programme):
    if isinstance(programme, Programme):
        return programme
    found = Programme.objects.filter(slug=programme).first()
    if found is None:
        raise DocumentRefused(f"There is no programme '{programme}'.", field="programme")
    return found


def _kind(kind):
    if isinstance(kind, SourceKind):
        return kind
    slug = kind or DEFAULT_KIND
    found = SourceKind.objects.filter(slug=slug).first()
    if found is None:
        known = ", ".join(SourceKind.objects.order_by("slug").values_list("slug", flat=True)) or "(none yet)"
        raise DocumentRefused(f"There is no source kind '{slug}'. Accepted: {known}.", field="kind")
    return found


def unique_slug(title):
    """A slug from the title, made unique with -2, -3... (one query)."""
    base = (slugify(title) or "source")[: SLUG_MAX - 6].strip("-") or "source"
    taken = set(Source.objects.filter(slug__startswith=base).values_list("slug", flat=True)) | RESERVED_SLUGS
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    return slug


def import_document(file, programme, user=None, kind=None, title=None, dry_run=False):
    """Read ``file`` (a path, an uploaded file, or (name, bytes)) and create a source of it in
    ``programme`` (a Programme or its slug) as ``user`` (None: the operator). Returns a
    DocumentImportReport; ``report.written`` says whether the source was kept.

    Raises DocumentRefused for a file (or programme, kind) that cannot be used, and
    projects.membership.ProgrammeWriteRefused when ``user`` does not write in the programme: both
    before anything is read or written."""
    programme = _programme(programme)
    if user is not None:
        refuse_unless_writer(programme, actor=user)
    kind = _kind(kind)
    data, name = _read(file)
    document = extract(data, name)
    title = (title or "").strip() or (document.outline[0]["title"] if document.outline else "") or PurePath(name).stem
    title = " ".join(title.split())[: Source._meta.get_field("title").max_length]
    report = DocumentImportReport(file_name=name, dry_run=dry_run, document=document)
    stored = []

    def write(report):
        report.progress(1, 3, "text read")
        source = Source(
            slug=unique_slug(title), kind=kind, programme=programme, title=title, full_text=document.text,
            extractor=document.extractor, extractor_version=document.extractor_version, outline=document.outline,
            created_by=user if user is not None and user.is_authenticated else None,
            updated_by=user if user is not None and user.is_authenticated else None,
        )
        source._change_reason = history_reason(name)
        report.source = source
        source.full_clean(exclude=["file"])
        if not dry_run:
            source.file.save(name, ContentFile(data), save=False)
            stored.append(source.file.name)
        report.progress(2, 3, "original file stored")
        source.save()
        report.progress(3, 3, "source written")
        report.created(Source._meta.verbose_name, title, where=name)
        report.note(f"{len(document.text):,} characters, {document.headings} heading"
                    f"{'s' if document.headings != 1 else ''}; read by {document.extractor} {document.extractor_version}")

    try:
        run_import(write, report, user=user)
    finally:
        if not report.written:
            _forget(stored)
    return report


def _forget(names):
    from django.core.files.storage import default_storage

    for name in names:
        default_storage.delete(name)
