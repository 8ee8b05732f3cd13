"""The files: the .qdpx ZIP (project.qde and the source texts) and the .qdc; ``export_qdpx`` and
``export_codebook`` read the database and build them.

The .qdpx is written as a stream (``iter_qdpx``): project.qde goes into the ZIP piece by piece as
project.py writes it, then each source text as it is read, into a sink that is not seekable, so
zipfile writes each entry's sizes and CRC in a data descriptor after it; the caller drains the bytes
as they come (the view's StreamingHttpResponse, the management command's file). Memory stays bounded
whatever the number of excerpts.

Part of the REFI-QDA export (evidence/refi_qda/__init__.py says how the knowledge base maps
onto QDA-XML)."""

import zipfile

from evidence.refi_qda.schema import ZIP_TIMESTAMP, source_file_name
from evidence.refi_qda.data import StreamedRows, load_export_data
from evidence.refi_qda.codebook import build_codebook_xml
from evidence.refi_qda.project import iter_project_xml

# Bytes of XML gathered before they go to the compressor, and of ZIP output before they are yielded.
XML_BATCH = 256 * 1024
# zlib's fastest level: at level 6 (the default) compressing took about as long as writing the XML,
# for a file about 20% smaller.
COMPRESS_LEVEL = 1


class _Sink:
    """A write-only, unseekable file for zipfile (no tell or seek, so zipfile streams)."""

    def __init__(self):
        self._chunks = []

    def write(self, data):
        self._chunks.append(bytes(data))
        return len(data)

    def flush(self):
        pass

    def drain(self):
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def _info(name):
    info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3
    info.external_attr = 0o644 << 16
    info._compresslevel = COMPRESS_LEVEL  # ZipFile.open(ZipInfo, "w") takes no level (3.13: compress_level)
    return info


def iter_project_qdpx(data, rows):
    """A .qdpx archive (ZIP: project.qde, then sources/<guid>.txt per source) as chunks of bytes.
    `data` is load_export_data's snapshot, `rows` its StreamedRows."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w") as archive:
        # project.qde is far below ZIP64's 4 GiB at a million excerpts (about 1.5 KB each); zipfile
        # refuses, rather than corrupts, an entry that outgrows it.
        with archive.open(_info("project.qde"), "w") as entry:
            batch, size = [], 0
            for piece in iter_project_xml(data, rows):
                batch.append(piece)
                size += len(piece)
                if size >= XML_BATCH:
                    entry.write("".join(batch).encode("utf-8"))
                    batch, size = [], 0
                    chunk = sink.drain()
                    if chunk:
                        yield chunk
            entry.write("".join(batch).encode("utf-8"))
        for pk, slug, full_text in rows.source_texts():
            # Named by the TextSource's GUID (the one it was imported with, if any: data.source_guids).
            name = f"{data.source_guids[pk]}.txt" if pk in data.source_guids else source_file_name(slug)
            # Written as is: no BOM and no newline translation, so offsets stay code points into the file.
            archive.writestr(_info(f"sources/{name}"), full_text.encode("utf-8"))
            chunk = sink.drain()
            if chunk:
                yield chunk
    yield sink.drain()


def iter_qdpx(include_drafts=False, internal_notes=False, programmes=None, drafts_of=None):
    """The .qdpx of what the caller may see (see load_export_data: the programmes exported, whose
    drafts), as chunks of bytes."""
    data = load_export_data(include_drafts=include_drafts, internal_notes=internal_notes, programmes=programmes,
                            drafts_of=drafts_of)
    yield from iter_project_qdpx(data, StreamedRows(data))


def export_qdpx(include_drafts=False, internal_notes=False, programmes=None, drafts_of=None):
    """The whole .qdpx as bytes (for small knowledge bases and tests; downloads stream iter_qdpx)."""
    return b"".join(iter_qdpx(include_drafts=include_drafts, internal_notes=internal_notes, programmes=programmes,
                              drafts_of=drafts_of))


def export_codebook(include_drafts=False, internal_notes=False, programmes=None, drafts_of=None):
    return build_codebook_xml(load_export_data(include_drafts=include_drafts, evidence=False, internal_notes=internal_notes,
                                               programmes=programmes, drafts_of=drafts_of))
