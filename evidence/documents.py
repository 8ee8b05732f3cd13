"""Text out of a document file: .txt, .md, .docx, .odt, .pdf, .html, .rtf (issue 12, "Documents").

A source's full text is verbatim: excerpts point into it by character offsets and must match it
character for character (evidence/models.py). So extraction keeps the words exactly as the file has
them, in reading order, one block (paragraph, heading, list item, table row group) after another,
separated by a blank line. The only normalisations are the ones that are not the author's: line
endings become "\\n" and a leading byte-order mark is dropped. HTML is the one exception, by its own
definition: a run of white space in HTML source is one space when read (outside <pre>), so the
indentation of the markup is not taken for the author's text.

Headings become the outline: [{"level": 1, "title": "Results", "start": 1234}, ...], where `start`
counts Python str characters (as excerpt offsets do) and text[start:start + len(title)] == title.
Where a format has no headings we can trust (RTF, plain text) the outline is empty; a PDF's outline
is its bookmarks, each found in the text after the previous one.

A file that cannot be read raises DocumentRefused, one exception whose message says which file and
why (encrypted, no text layer, corrupt, the extension says one format and the content another,
empty, too large). Nothing here touches the database or the disk beyond reading the bytes given.
"""

import io
import re
import sys
import zipfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from importlib.metadata import PackageNotFoundError, version
from pathlib import PurePath

from django.conf import settings

EXTENSIONS = (".txt", ".md", ".docx", ".odt", ".pdf", ".html", ".rtf")
FORMAT_NAMES = {
    ".txt": "a plain-text file", ".md": "a Markdown file", ".docx": "a Word document (.docx)",
    ".odt": "an OpenDocument text (.odt)", ".pdf": "a PDF document", ".html": "an HTML page", ".rtf": "an RTF document",
}
# ".htm" and ".markdown" are the same formats under other names.
ALIASES = {".htm": ".html", ".markdown": ".md", ".text": ".txt"}
OUTLINE_SEPARATOR = " › "  # as EvidenceExcerpt.section spells a path ("4 Factors… › 4.1 … › Targeting")


class DocumentRefused(Exception):
    """A file that cannot become a source. ``message`` says which file and why; ``field`` is the
    form or API field at fault (the file itself, almost always)."""

    def __init__(self, message, field="file"):
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass
class Document:
    text: str
    outline: list = field(default_factory=list)  # [{"level", "title", "start"}]
    extractor: str = ""
    extractor_version: str = ""
    file_name: str = ""

    @property
    def headings(self):
        return len(self.outline)

    def first_lines(self, count=8):
        return [line for line in self.text.split("\n") if line.strip()][:count]


def max_bytes():
    return settings.SOURCE_UPLOAD_MAX_BYTES


def package_version(name):
    try:
        return version(name)
    except PackageNotFoundError:  # pragma: no cover - a broken install
        return ""


STDLIB = "Python standard library"


def stdlib_version():
    return "%d.%d.%d" % sys.version_info[:3]


# --- Building the text -----------------------------------------------------------------------------


class _Builder:
    """Blocks joined by a blank line; headings recorded at the offset where their text begins."""

    def __init__(self):
        self.parts = []
        self.length = 0
        self.outline = []

    def block(self, text, heading_level=None):
        text = _line_endings(text)
        if not text.strip():
            return
        if self.parts:
            self.parts.append("\n\n")
            self.length += 2
        if heading_level is not None:
            self.outline.append({"level": int(heading_level), "title": text, "start": self.length})
        self.parts.append(text)
        self.length += len(text)

    def text(self):
        return "".join(self.parts)


def _line_endings(text):
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _strip_bom(text):
    return text[1:] if text.startswith("\ufeff") else text


# --- What the bytes are ----------------------------------------------------------------------------


def sniff(data):
    """The format the content says it is (an extension), or None when it could be any text format."""
    if data.startswith(b"%PDF-"):
        return ".pdf"
    if data.startswith(b"{\\rtf"):
        return ".rtf"
    if data.startswith(b"PK\x03\x04"):
        try:
            names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
        except zipfile.BadZipFile:
            return None  # a damaged archive: the reader of the format named says so
        if "word/document.xml" in names:
            return ".docx"
        if "content.xml" in names:
            return ".odt"
        return "zip"
    return None


def _describe(kind):
    return FORMAT_NAMES.get(kind, "a zip archive of another kind" if kind == "zip" else "binary data")


def extract(data, file_name):
    """Read ``data`` (the file's bytes) as the format its name says; a Document or DocumentRefused."""
    name = PurePath(file_name or "").name or "the file"
    suffix = PurePath(name).suffix.lower()
    suffix = ALIASES.get(suffix, suffix)
    limit = max_bytes()
    if len(data) > limit:
        raise DocumentRefused(
            f"“{name}” is {len(data):,} bytes, larger than the limit of {limit:,} bytes "
            "(SOURCE_UPLOAD_MAX_BYTES).")
    if suffix not in EXTENSIONS:
        raise DocumentRefused(
            f"“{name}” has {'the extension ' + suffix if suffix else 'no extension'}: a source can be read from "
            f"{', '.join(EXTENSIONS)}.")
    if not data:
        raise DocumentRefused(f"“{name}” is empty.")
    found = sniff(data)
    if found is not None and found != suffix:
        raise DocumentRefused(f"“{name}” has the extension {suffix} but its content is {_describe(found)}; "
                              "rename it or upload the right file.")
    if suffix in (".txt", ".md", ".html") and b"\x00" in data[:8192]:
        raise DocumentRefused(f"“{name}” has the extension {suffix} but its content is binary data, not text.")
    reader = READERS[suffix]
    document = reader(data, name)  # each reader drops a leading BOM before it counts offsets
    if not document.text.strip():
        raise DocumentRefused(f"“{name}” has no text to store{_empty_hint(suffix)}.")
    document.file_name = name
    return document


def _empty_hint(suffix):
    return {".pdf": " (a scanned PDF without a text layer? Run OCR on it first)"}.get(suffix, "")


def _decode(data, name, what):
    try:
        return _strip_bom(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise DocumentRefused(
            f"“{name}” is not UTF-8 {what} (byte {exc.start} cannot be read); save it as UTF-8 and upload it again."
        ) from None


# --- Plain text and Markdown -----------------------------------------------------------------------


def read_txt(data, name):
    text = _line_endings(_decode(data, name, "text"))
    return Document(text=text, extractor=STDLIB, extractor_version=stdlib_version())


_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


def read_md(data, name):
    """Markdown stays Markdown (the marks are part of what the author wrote); ATX headings (`# Title`)
    make the outline, outside fenced code."""
    text = _line_endings(_decode(data, name, "text"))
    outline, offset, fenced = [], 0, None
    for line in text.split("\n"):
        fence = _FENCE.match(line)
        if fence:
            fenced = None if fenced == fence.group(1) else (fenced or fence.group(1))
        elif fenced is None:
            match = _ATX.match(line)
            if match and match.group(2):
                outline.append({"level": len(match.group(1)), "title": match.group(2), "start": offset + match.start(2)})
        offset += len(line) + 1
    return Document(text=text, outline=outline, extractor=STDLIB, extractor_version=stdlib_version())


# --- Word (.docx) ------------------------------------------------------------------------------------


def _open_zip(data, name, what):
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        bad = archive.testzip()
    except (zipfile.BadZipFile, EOFError, ValueError) as exc:
        raise DocumentRefused(f"“{name}” cannot be read as {what}: it is not a valid zip archive ({exc}); "
                              "the file is damaged or not of this format.") from None
    if bad is not None:
        raise DocumentRefused(f"“{name}” cannot be read as {what}: its part {bad} is damaged.")
    return archive


def _heading_level(style_name):
    if not style_name:
        return None
    if style_name == "Title":
        return 1
    match = re.fullmatch(r"Heading ([1-9])", style_name)
    return int(match.group(1)) if match else None


def _docx_style_level(paragraph):
    style = paragraph.style
    while style is not None:
        level = _heading_level(style.name)
        if level is not None:
            return level
        style = style.base_style
    return None


def read_docx(data, name):
    """Paragraphs and tables of the body in document order; a table is one block whose rows are
    lines and whose cells are separated by tabs. Headings: the built-in "Title" and "Heading N"
    styles (and styles based on them)."""
    _open_zip(data, name, FORMAT_NAMES[".docx"])
    import docx
    from docx.opc.exceptions import PackageNotFoundError as DocxPackageError
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
    except (DocxPackageError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise DocumentRefused(f"“{name}” cannot be read as a Word document (.docx): {exc}.") from None
    except Exception as exc:  # lxml's XMLSyntaxError and kin: a damaged part
        raise DocumentRefused(f"“{name}” cannot be read as a Word document (.docx): a part is damaged ({exc}).") from None
    builder = _Builder()
    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            builder.block(item.text, _docx_style_level(item))
        elif isinstance(item, Table):
            rows = []
            for row in item.rows:
                cells = []
                for cell in row.cells:
                    cells.append("\n".join(p.text for p in cell.paragraphs))
                rows.append("\t".join(cells))
            builder.block("\n".join(rows))
    return Document(text=builder.text(), outline=builder.outline, extractor="python-docx",
                    extractor_version=package_version("python-docx"))


# --- OpenDocument (.odt) -----------------------------------------------------------------------------


def read_odt(data, name):
    """text:h (with its outline level), text:p, list items and table rows in document order."""
    archive = _open_zip(data, name, FORMAT_NAMES[".odt"])
    if "content.xml" not in archive.namelist():
        raise DocumentRefused(f"“{name}” cannot be read as an OpenDocument text (.odt): it has no content.xml.")
    from odf import teletype
    from odf.namespaces import TABLENS, TEXTNS
    from odf.opendocument import load

    try:
        document = load(io.BytesIO(data))
    except Exception as exc:  # odfpy raises whatever its XML parser does on a damaged part
        raise DocumentRefused(f"“{name}” cannot be read as an OpenDocument text (.odt): {exc}.") from None
    builder = _Builder()

    def walk(node):
        for child in node.childNodes:
            qname = getattr(child, "qname", None)
            if qname == (TEXTNS, "h"):
                level = child.getAttrNS(TEXTNS, "outline-level") or "1"
                builder.block(teletype.extractText(child), int(level) if str(level).isdigit() else 1)
            elif qname == (TEXTNS, "p"):
                builder.block(teletype.extractText(child))
            elif qname == (TABLENS, "table"):
                rows = []
                for row in child.getElementsByType(_odf_table_row()):
                    cells = ["\n".join(teletype.extractText(p) for p in cell.childNodes if getattr(p, "qname", None) == (TEXTNS, "p"))
                             for cell in row.childNodes if getattr(cell, "qname", None) == (TABLENS, "table-cell")]
                    rows.append("\t".join(cells))
                builder.block("\n".join(rows))
            elif qname is not None and qname[0] == TEXTNS and qname[1] in ("list", "list-item", "list-header", "section"):
                walk(child)

    walk(document.text)
    return Document(text=builder.text(), outline=builder.outline, extractor="odfpy", extractor_version=package_version("odfpy"))


def _odf_table_row():
    from odf.table import TableRow

    return TableRow


# --- PDF ---------------------------------------------------------------------------------------------


def read_pdf(data, name):
    """Each text box of each page is a block (pdfminer's layout analysis puts them in reading order).
    The outline is the PDF's bookmarks, each found in the text after the one before. A PDF that needs
    a password is refused; one encrypted without a user password (copy or print restrictions only)
    is read, as every PDF viewer reads it."""
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LAParams, LTTextContainer
    from pdfminer.pdfdocument import PDFDocument, PDFEncryptionError, PDFNoOutlines, PDFPasswordIncorrect
    from pdfminer.pdfparser import PDFParser, PDFSyntaxError

    fail = f"“{name}” cannot be read as a PDF document"
    try:
        parser = PDFParser(io.BytesIO(data))
        pdf = PDFDocument(parser)
    except PDFPasswordIncorrect:
        raise DocumentRefused(f"“{name}” is an encrypted PDF that needs a password: save an unencrypted copy "
                              "and upload that.") from None
    except PDFEncryptionError as exc:
        raise DocumentRefused(f"“{name}” is an encrypted PDF that cannot be opened ({exc}).") from None
    except (PDFSyntaxError, Exception) as exc:
        raise DocumentRefused(f"{fail}: it is damaged ({exc or type(exc).__name__}).") from None
    bookmarks = []
    try:
        for level, title, *_ in pdf.get_outlines():
            if isinstance(title, str) and title.strip():
                bookmarks.append((level, title))
    except PDFNoOutlines:
        pass
    except Exception:  # a damaged outline does not make the text unreadable
        bookmarks = []
    builder = _Builder()
    try:
        for page in extract_pages(io.BytesIO(data), laparams=LAParams()):
            for element in page:
                if isinstance(element, LTTextContainer):
                    builder.block(element.get_text().rstrip("\n"))
    except PDFPasswordIncorrect:
        raise DocumentRefused(f"“{name}” is an encrypted PDF that needs a password.") from None
    except Exception as exc:
        raise DocumentRefused(f"{fail}: {exc or type(exc).__name__}.") from None
    text = builder.text()
    if not text.strip():
        raise DocumentRefused(f"“{name}” is a PDF with no text layer (a scanned document?): run OCR on it "
                              "first, or upload the text.")
    outline, position = [], 0
    for level, title in bookmarks:
        title = _line_endings(title).strip()
        found = text.find(title, position)
        if found >= 0:
            outline.append({"level": int(level), "title": title, "start": found})
            position = found + len(title)
    return Document(text=text, outline=outline, extractor="pdfminer.six", extractor_version=package_version("pdfminer.six"))


# --- HTML --------------------------------------------------------------------------------------------

_BLOCKS = {"p", "div", "li", "dt", "dd", "blockquote", "pre", "section", "article", "header", "footer", "main",
           "aside", "nav", "figure", "figcaption", "address", "ul", "ol", "dl", "table", "caption", "form",
           "fieldset", "hr", "body", "html"}
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_SKIPPED = {"script", "style", "template", "noscript", "head", "title"}
_HTML_SPACE = re.compile(r"[ \t\n\f\r]+")


class _HTMLText(HTMLParser):
    """Block elements (and each table row) make blocks; h1–h6 headings; <br> a line break; a table
    row's cells are separated by tabs. White space collapses as HTML defines it, except in <pre>."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.builder = _Builder()
        self.buffer = []
        self.heading = None
        self.skipping = 0
        self.pre = 0
        self.in_row = False
        self.cells = 0

    def flush(self):
        text = "".join(self.buffer)
        self.buffer = []
        if not self.pre:  # spaces next to a <br> or a block's edge are not rendered
            text = "\n".join(line.strip(" ") for line in text.split("\n"))
        self.builder.block(text.strip("\n"), self.heading)

    def handle_starttag(self, tag, attrs):
        if tag in _SKIPPED:
            self.skipping += 1
        elif tag in _HEADINGS:
            self.flush()
            self.heading = _HEADINGS[tag]
        elif tag == "tr":
            self.flush()
            self.in_row, self.cells = True, 0
        elif tag in ("td", "th"):
            if self.cells:
                self.buffer.append("\t")
            self.cells += 1
        elif tag == "br":
            self.buffer.append("\n")
        elif tag in _BLOCKS:
            self.flush()
            if tag == "pre":
                self.pre += 1

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag in _SKIPPED:
            self.skipping -= 1

    def handle_endtag(self, tag):
        if tag in _SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _HEADINGS:
            self.flush()
            self.heading = None
        elif tag == "tr":
            self.flush()
            self.in_row = False
        elif tag in _BLOCKS:
            self.flush()
            if tag == "pre":
                self.pre = max(0, self.pre - 1)

    def handle_data(self, data):
        if self.skipping:
            return
        if self.pre:
            self.buffer.append(data)
            return
        collapsed = _HTML_SPACE.sub(" ", data)
        if collapsed == " " and (not self.buffer or self.buffer[-1].endswith((" ", "\n", "\t"))):
            return
        if self.buffer and self.buffer[-1].endswith((" ", "\n", "\t")):
            collapsed = collapsed.lstrip(" ")
        self.buffer.append(collapsed)

    def close(self):
        super().close()
        self.flush()


def read_html(data, name):
    text = _line_endings(_decode(data, name, "HTML"))
    parser = _HTMLText()
    parser.feed(text)
    parser.close()
    return Document(text=parser.builder.text(), outline=parser.builder.outline,
                    extractor=f"html.parser ({STDLIB})", extractor_version=stdlib_version())


# --- RTF ---------------------------------------------------------------------------------------------


def read_rtf(data, name):
    """striprtf turns the control words into text; each paragraph (\\par) is a block. RTF's heading
    styles are not read (the outline is empty): name sections by hand if needed."""
    from striprtf.striprtf import rtf_to_text

    try:
        raw = data.decode("latin-1")  # RTF is 7-bit; 8-bit characters are escaped as \\'xx
        text = rtf_to_text(raw, encoding="cp1252", errors="strict")
    except Exception as exc:
        raise DocumentRefused(f"“{name}” cannot be read as an RTF document: {exc}.") from None
    builder = _Builder()
    for paragraph in _line_endings(text).split("\n"):
        builder.block(paragraph)
    return Document(text=builder.text(), extractor="striprtf", extractor_version=package_version("striprtf"))


READERS = {".txt": read_txt, ".md": read_md, ".docx": read_docx, ".odt": read_odt, ".pdf": read_pdf,
           ".html": read_html, ".rtf": read_rtf}


# --- The outline at an offset ------------------------------------------------------------------------


def section_at(outline, offset, max_length=500):
    """The heading path in force at ``offset``: "Results › Targeting" (the innermost heading and the
    headings it sits under), or "" before the first heading."""
    path = []
    for heading in outline or ():
        try:
            start, level, title = int(heading["start"]), int(heading["level"]), str(heading["title"])
        except (KeyError, TypeError, ValueError):
            continue
        if start > offset:
            break
        while path and path[-1][0] >= level:
            path.pop()
        path.append((level, " ".join(title.split())))
    section = OUTLINE_SEPARATOR.join(title for _, title in path)
    return section if len(section) <= max_length else "…" + section[-(max_length - 1):]
