"""The files: the .qdpx ZIP (project.qde and the source texts) and the .qdc; ``export_qdpx`` and
``export_codebook`` read the database and build them.

Part of the REFI-QDA export (evidence/refi_qda/__init__.py says how the knowledge base maps
onto QDA-XML)."""

import io
import zipfile

from evidence.refi_qda.schema import ZIP_TIMESTAMP, source_file_name
from evidence.refi_qda.data import load_export_data
from evidence.refi_qda.codebook import build_codebook_xml
from evidence.refi_qda.project import build_project_xml


def _zip_entry(archive, name, payload):
    info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3
    info.external_attr = 0o644 << 16
    archive.writestr(info, payload)


def build_qdpx(data):
    """A .qdpx archive (ZIP: project.qde, then sources/<guid>.txt per source), as bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        _zip_entry(archive, "project.qde", build_project_xml(data))
        for source in data.sources:
            # Written as is: no BOM and no newline translation, so offsets stay code points into the file.
            _zip_entry(archive, f"sources/{source_file_name(source.slug)}", source.full_text.encode("utf-8"))
    return buffer.getvalue()


def export_qdpx(include_drafts=False, internal_notes=False):
    return build_qdpx(load_export_data(include_drafts=include_drafts, internal_notes=internal_notes))


def export_codebook(include_drafts=False, internal_notes=False):
    return build_codebook_xml(load_export_data(include_drafts=include_drafts, evidence=False, internal_notes=internal_notes))
