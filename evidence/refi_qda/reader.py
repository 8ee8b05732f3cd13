"""Reading REFI-QDA files: a project (.qdpx: a ZIP of project.qde and its sources) or a codebook
(.qdc), into plain dataclasses that know nothing of the database (evidence/refi_qda_import.py writes
them).

Real exports stray from the schema's examples (DOMAIN.md, "REFI-QDA exports as real tools write
them"), and the reader takes all of it:
- GUIDs upper or lower case, with or without braces, not RFC 4122 valid: every GUID is kept as
  evidence.codes.normalise_guid gives it (lower case, no braces); a value that is not 8-4-4-4-12 hex
  at all is kept lower-cased, and the importer refuses it only where it must store it;
- a source's text at ``plainTextPath="internal://<guid>.txt"`` (MAXQDA, our own export), at a relative
  path under ``sources/`` or ``Sources/`` (NVivo, QualCoder), with or without the folder, or inline
  in ``<PlainTextContent>`` (Taguette, QualCoder); where only a rich-text copy exists
  (``richTextPath``, e.g. a .docx) its text is extracted as for an uploaded document
  (evidence/documents.py);
- files in the ZIP the project does not name (``sources/.root``), sources with an empty text, no
  sources at all (ATLAS.ti codebook-only projects), code trees of any depth with codable parents and
  repeated names, selections that name their user only by ``creatingUser``.

The text of a source is kept exactly as read, with only a leading byte-order mark dropped: line
endings are not normalised, since REFI-QDA positions count the characters of the file as it is
(``\\r\\n`` is two). A BOM is an encoding mark, not a character of the text: positions count from the
character after it.

What cannot be read at all (not a ZIP, no project.qde, XML that is not well formed, a DTD declaring
entities) raises ``Unreadable`` naming the file, the element and the line. Problems of one element
(a position that is not a number, a source whose text file is missing) do not stop the reading: they
are collected in ``Project.problems`` and the importer reports each as an error.

XML is parsed with the standard library's expat, one element at a time, keeping each element's line
number; entity declarations and external entities are refused (the "billion laughs" and XXE attacks),
and the uncompressed size of project.qde and of each source is capped, so an uploaded file cannot
blow up memory.
"""

import io
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import PurePosixPath
from xml.parsers import expat

from evidence.codes import normalise_guid

# The file as uploaded, and what its archive unpacks to (as its entries declare it; an entry that
# holds more than it declares is cut off when read, by the limits below).
MAX_FILE_BYTES = 1024 * 1024 * 1024
MAX_UNPACKED_BYTES = 4 * 1024 * 1024 * 1024
# Uncompressed bytes of project.qde and of one source's file.
MAX_XML_BYTES = 512 * 1024 * 1024
MAX_SOURCE_BYTES = 64 * 1024 * 1024
READ_CHUNK = 1024 * 1024


class Unreadable(Exception):
    """The file cannot be read as a REFI-QDA project or codebook: ``where`` (file, element, line),
    ``field`` (attribute or "file"), ``value`` and ``reason``, as an ImportReport error."""

    def __init__(self, where, field, value, reason):
        super().__init__(f"{where}: {reason}")
        self.where, self.field, self.value, self.reason = where, field, value, reason


def guid_key(value):
    """A GUID as the import compares and stores it: normalised, or lower-cased when it has not the
    8-4-4-4-12 shape (kept so a reference to it still matches)."""
    if value is None:
        return None
    return normalise_guid(value) or value.strip().strip("{}").strip().lower() or None


def parse_datetime(value):
    """An xsd:dateTime as an aware datetime (UTC when it names no offset), or None."""
    if not value:
        return None
    text = value.strip()
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)


# --- The dataclasses -----------------------------------------------------------------------------


@dataclass
class Element:
    """Where something was read: the file, the element's tag, its line, its GUID as written."""

    file: str
    tag: str
    line: int
    guid_text: str = ""

    @property
    def where(self):
        guid = f" guid={self.guid_text}" if self.guid_text else ""
        return f"{self.file} line {self.line} <{self.tag}{guid}>"


@dataclass
class User:
    at: Element
    guid: str
    name: str = ""
    id: str = ""


@dataclass
class Code:
    at: Element
    guid: str
    name: str
    codable: bool = True
    color: str = ""
    description: str = ""
    parent: str = None  # the parent's GUID
    order: int = 0  # position among its siblings
    depth: int = 0
    note_refs: list = field(default_factory=list)


@dataclass
class Coding:
    at: Element
    guid: str
    code: str  # the code's GUID
    creating_user: str = None
    created: datetime = None
    note_refs: list = field(default_factory=list)


@dataclass
class Selection:
    at: Element
    guid: str
    name: str
    start: int
    end: int
    creating_user: str = None
    created: datetime = None
    description: str = ""
    codings: list = field(default_factory=list)
    note_refs: list = field(default_factory=list)


@dataclass
class VariableValue:
    at: Element
    variable: str  # the variable's GUID
    type: str  # Text, Boolean, Integer, Float, Date, DateTime
    value: str


@dataclass
class Source:
    at: Element
    guid: str
    name: str
    kind: str  # TextSource, PDFSource, PictureSource, AudioSource, VideoSource
    text: str = None  # None: no text could be found (see text_from)
    text_from: str = ""  # "PlainTextContent", the ZIP entry read, or "<entry> (extracted)"
    rich_text_path: str = ""
    plain_text_path: str = ""
    description: str = ""
    creating_user: str = None
    created: datetime = None
    selections: list = field(default_factory=list)
    codings: list = field(default_factory=list)  # codings of the whole source
    variables: list = field(default_factory=list)
    note_refs: list = field(default_factory=list)
    other_selections: int = 0  # picture, PDF, audio, video, transcript selections


@dataclass
class Case:
    at: Element
    guid: str
    name: str
    description: str = ""
    code_refs: list = field(default_factory=list)
    source_refs: list = field(default_factory=list)
    selection_refs: list = field(default_factory=list)
    variables: list = field(default_factory=list)
    note_refs: list = field(default_factory=list)


@dataclass
class Note:
    at: Element
    guid: str
    name: str
    text: str = ""
    creating_user: str = None
    created: datetime = None


@dataclass
class Link:
    at: Element
    guid: str
    name: str = ""
    direction: str = ""
    color: str = ""
    origin: str = None
    target: str = None
    note_refs: list = field(default_factory=list)


@dataclass
class Set:
    at: Element
    guid: str
    name: str
    description: str = ""
    codes: list = field(default_factory=list)
    sources: list = field(default_factory=list)
    notes: list = field(default_factory=list)


@dataclass
class Variable:
    at: Element
    guid: str
    name: str
    type: str = "Text"
    description: str = ""


@dataclass
class Project:
    """A project or a codebook (``is_codebook``), everything in document order."""

    file_name: str
    is_codebook: bool = False
    name: str = ""
    origin: str = ""
    description: str = ""
    users: list = field(default_factory=list)
    codes: list = field(default_factory=list)  # the tree flattened, parents before children
    variables: list = field(default_factory=list)
    cases: list = field(default_factory=list)
    sources: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    links: list = field(default_factory=list)
    sets: list = field(default_factory=list)
    note_refs: list = field(default_factory=list)  # notes about the project itself
    graphs: int = 0
    unknown: dict = field(default_factory=dict)  # tag -> count of elements with no meaning here
    unnamed_files: list = field(default_factory=list)  # ZIP entries the project does not name
    problems: list = field(default_factory=list)  # (where, field, value, reason)

    def problem(self, where, field, value, reason):
        self.problems.append((where, field, "" if value is None else str(value), reason))

    def selections(self):
        for source in self.sources:
            yield from ((source, selection) for selection in source.selections)


# --- Parsing XML with line numbers ---------------------------------------------------------------


class _Node:
    __slots__ = ("tag", "attrs", "children", "text", "line")

    def __init__(self, tag, attrs, line):
        self.tag, self.attrs, self.line = tag, attrs, line
        self.children, self.text = [], []

    def child(self, tag):
        return next((c for c in self.children if c.tag == tag), None)

    def all(self, tag):
        return [c for c in self.children if c.tag == tag]

    def content(self):
        return "".join(self.text)


def _local(name):
    return name.rsplit(" ", 1)[-1].rsplit(":", 1)[-1]


def parse_xml(stream, file_name):
    """The document of a binary stream as a tree of _Node (tags without namespace), each with its
    line. Raises Unreadable."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    stack, root = [], []

    def start(name, attrs):
        node = _Node(_local(name), {_local(k): v for k, v in attrs.items()}, parser.CurrentLineNumber)
        if stack:
            stack[-1].children.append(node)
        else:
            root.append(node)
        stack.append(node)

    def end(name):
        stack.pop()

    def text(data):
        if stack:
            stack[-1].text.append(data)

    def refuse_entities(*args):
        raise Unreadable(f"{file_name} line {parser.CurrentLineNumber}", "DOCTYPE", "",
                         "the document declares entities, which an import does not expand")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    parser.EntityDeclHandler = refuse_entities
    parser.UnparsedEntityDeclHandler = refuse_entities
    parser.ExternalEntityRefHandler = refuse_entities
    read = 0
    try:
        while True:
            chunk = stream.read(READ_CHUNK)
            read += len(chunk)
            if read > MAX_XML_BYTES:
                raise Unreadable(file_name, "file", "", f"larger than {MAX_XML_BYTES // (1024 * 1024)} MB uncompressed")
            parser.Parse(chunk, not chunk)
            if not chunk:
                break
    except expat.ExpatError as error:
        element = f" in <{stack[-1].tag}> (opened at line {stack[-1].line})" if stack else ""
        raise Unreadable(f"{file_name} line {error.lineno}", "XML", "",
                         f"not well-formed XML at column {error.offset + 1}{element}: "
                         f"{expat.ErrorString(error.code)}") from None
    if not root:
        raise Unreadable(file_name, "XML", "", "the document is empty")
    return root[0]


# --- The archive -----------------------------------------------------------------------------------


class _Archive:
    """A .qdpx's entries: found by the path a project names (internal://, relative, under sources/
    or Sources/, or not), case-insensitively where an exact match fails."""

    def __init__(self, archive):
        self.zip = archive
        self.names = [info.filename for info in archive.infolist() if not info.is_dir()]
        self.by_lower = {}
        for name in self.names:
            self.by_lower.setdefault(name.lower(), name)
        self.used = {"project.qde"}

    def find(self, path):
        if not path:
            return None
        text = path.strip().replace("\\", "/")
        for prefix in ("internal://", "relative://", "absolute://", "file://"):
            if text.lower().startswith(prefix):
                text = text[len(prefix):]
                break
        while text.startswith(("./", "/")):
            text = text[2:] if text.startswith("./") else text[1:]
        base = PurePosixPath(text).name
        for candidate in (text, f"sources/{text}", f"Sources/{text}", f"sources/{base}", base):
            if candidate in self.names:
                return candidate
            found = self.by_lower.get(candidate.lower())
            if found:
                return found
        return None

    def read(self, name):
        self.used.add(name)
        with self.zip.open(name) as entry:
            data = entry.read(MAX_SOURCE_BYTES + 1)
        if len(data) > MAX_SOURCE_BYTES:
            raise ValueError(f"larger than {MAX_SOURCE_BYTES // (1024 * 1024)} MB uncompressed")
        return data


def _decode(data):
    """A source file's text: UTF-8, or UTF-16 when it starts with a UTF-16 byte-order mark (some
    Windows tools write it so); the mark itself is dropped."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    text = data.decode("utf-8")
    return text[1:] if text.startswith("\ufeff") else text


def _file_name_of(file):
    import os

    if isinstance(file, (str, os.PathLike)):
        return os.path.basename(os.fspath(file))
    return os.path.basename(getattr(file, "name", "") or "") or "upload"


def _bytes_of(file):
    import os

    if isinstance(file, (bytes, bytearray)):
        return bytes(file)
    if isinstance(file, (str, os.PathLike)):
        with open(file, "rb") as handle:
            return handle.read(MAX_FILE_BYTES + 1)
    if hasattr(file, "seek"):
        file.seek(0)
    data = file.read(MAX_FILE_BYTES + 1)
    return data.encode("utf-8") if isinstance(data, str) else data


def read(file, file_name=None):
    """A Project read from ``file`` (a path, an uploaded file, or bytes with ``file_name``): a .qdpx
    project, or a .qdc codebook (XML whose root is CodeBook). Raises Unreadable."""
    name = file_name or _file_name_of(file)
    try:
        data = _bytes_of(file)
    except FileNotFoundError:
        raise
    except OSError as error:
        raise Unreadable(name, "file", "", f"cannot be opened: {error.strerror or error}") from None
    if not data:
        raise Unreadable(name, "file", "", "the file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise Unreadable(name, "file", "", f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    if data.startswith(b"PK"):
        return _read_qdpx(data, name)
    if name.lower().endswith(".qdpx"):
        raise Unreadable(name, "file", "", "not a ZIP archive: a .qdpx project is a ZIP holding project.qde")
    root = parse_xml(io.BytesIO(data), name)
    return _read_document(root, name, None)


def _read_qdpx(data, name):
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, NotImplementedError) as error:
        raise Unreadable(name, "file", "", f"a damaged ZIP archive ({error})") from None
    # Each entry's checksum is checked as it is read (zipfile raises BadZipFile), not by unpacking
    # everything first: an archive of a million empty entries or one huge one costs nothing until read.
    if sum(info.file_size for info in archive.infolist()) > MAX_UNPACKED_BYTES:
        raise Unreadable(name, "file", "", f"the archive unpacks to more than {MAX_UNPACKED_BYTES // (1024 ** 3)} GB")
    files = _Archive(archive)
    qde = files.find("project.qde") if "project.qde" in files.by_lower else None
    if qde is None:
        candidates = [n for n in files.names if n.lower().endswith(".qde")]
        qde = candidates[0] if len(candidates) == 1 else None
    if qde is None:
        raise Unreadable(name, "file", ", ".join(files.names[:10]),
                         "no project.qde in the archive: a .qdpx project holds its project in project.qde")
    files.used.add(qde)
    try:
        with archive.open(qde) as stream:
            root = parse_xml(stream, qde)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as error:
        raise Unreadable(name, "file", qde, f"a damaged ZIP archive: {qde} cannot be unpacked ({error})") from None
    project = _read_document(root, qde, files)
    project.unnamed_files = [n for n in files.names if n not in files.used]
    return project


# --- The document ------------------------------------------------------------------------------------


def _read_document(root, file_name, files):
    if root.tag == "CodeBook":
        project = Project(file_name=file_name, is_codebook=True, origin=root.attrs.get("origin", ""))
        _read_codes(project, root.child("Codes"), file_name)
        sets = root.child("Sets")
        if sets is not None:
            for node in sets.all("Set"):
                project.sets.append(_read_set(node, file_name))
        return project
    if root.tag != "Project":
        raise Unreadable(f"{file_name} line {root.line}", "XML", f"<{root.tag}>",
                         "neither a REFI-QDA project (<Project>) nor a codebook (<CodeBook>)")
    project = Project(file_name=file_name, name=root.attrs.get("name", ""), origin=root.attrs.get("origin", ""))
    reader = _ProjectReader(project, file_name, files)
    for node in root.children:
        handler = getattr(reader, f"read_{node.tag}", None)
        if handler is None:
            project.unknown[node.tag] = project.unknown.get(node.tag, 0) + 1
        else:
            handler(node)
    return project


def _at(file_name, node):
    return Element(file_name, node.tag, node.line, node.attrs.get("guid", ""))


def _description(node):
    child = node.child("Description")
    return child.content() if child is not None else ""


def _refs(node, tag, attribute="targetGUID"):
    return [guid_key(ref.attrs.get(attribute)) for ref in node.all(tag) if ref.attrs.get(attribute)]


def _bool(value, default=True):
    if value is None:
        return default
    return value.strip().lower() in ("true", "1", "yes")


def _read_codes(project, codes_node, file_name):
    if codes_node is None:
        return

    def walk(nodes, parent, depth):
        for order, node in enumerate(n for n in nodes if n.tag == "Code"):
            code = Code(
                at=_at(file_name, node), guid=guid_key(node.attrs.get("guid")), name=node.attrs.get("name", ""),
                codable=_bool(node.attrs.get("isCodable")), color=(node.attrs.get("color") or "").strip(),
                description=_description(node), parent=parent, order=order, depth=depth,
                note_refs=_refs(node, "NoteRef"),
            )
            if not code.guid:
                project.problem(code.at.where, "guid", "", "a code without a GUID")
            project.codes.append(code)
            walk(node.children, code.guid, depth + 1)

    walk(codes_node.children, None, 0)


def _read_set(node, file_name):
    # A codebook's MemberCode names its code with `guid`, a project's with `targetGUID`.
    members = [guid_key(m.attrs.get("targetGUID") or m.attrs.get("guid")) for m in node.all("MemberCode")]
    return Set(at=_at(file_name, node), guid=guid_key(node.attrs.get("guid")), name=node.attrs.get("name", ""),
               description=_description(node), codes=[m for m in members if m],
               sources=_refs(node, "MemberSource"), notes=_refs(node, "MemberNote"))


def _variable_values(node, file_name):
    values = []
    for value_node in node.all("VariableValue"):
        ref = value_node.child("VariableRef")
        for child in value_node.children:
            if child.tag.endswith("Value"):
                values.append(VariableValue(at=_at(file_name, value_node),
                                            variable=guid_key(ref.attrs.get("targetGUID")) if ref is not None else None,
                                            type=child.tag[: -len("Value")], value=child.content()))
    return values


class _ProjectReader:
    def __init__(self, project, file_name, files):
        self.project, self.file_name, self.files = project, file_name, files

    def at(self, node):
        return _at(self.file_name, node)

    def read_Users(self, node):
        for user in node.all("User"):
            self.project.users.append(User(at=self.at(user), guid=guid_key(user.attrs.get("guid")),
                                           name=user.attrs.get("name", ""), id=user.attrs.get("id", "")))

    def read_CodeBook(self, node):
        _read_codes(self.project, node.child("Codes"), self.file_name)

    def read_Variables(self, node):
        for variable in node.all("Variable"):
            self.project.variables.append(Variable(
                at=self.at(variable), guid=guid_key(variable.attrs.get("guid")), name=variable.attrs.get("name", ""),
                type=variable.attrs.get("typeOfVariable", "Text"), description=_description(variable)))

    def read_Cases(self, node):
        for case in node.all("Case"):
            self.project.cases.append(Case(
                at=self.at(case), guid=guid_key(case.attrs.get("guid")), name=case.attrs.get("name", ""),
                description=_description(case), code_refs=_refs(case, "CodeRef"), source_refs=_refs(case, "SourceRef"),
                selection_refs=_refs(case, "SelectionRef"), variables=_variable_values(case, self.file_name),
                note_refs=_refs(case, "NoteRef")))

    def read_Sources(self, node):
        for source_node in node.children:
            self.project.sources.append(self._source(source_node))

    def read_Notes(self, node):
        for note in node.all("Note"):
            text, _ = self._text(note, required=False)
            self.project.notes.append(Note(
                at=self.at(note), guid=guid_key(note.attrs.get("guid")), name=note.attrs.get("name", ""),
                text=text or "", creating_user=guid_key(note.attrs.get("creatingUser")),
                created=parse_datetime(note.attrs.get("creationDateTime"))))

    def read_Links(self, node):
        for link in node.all("Link"):
            self.project.links.append(Link(
                at=self.at(link), guid=guid_key(link.attrs.get("guid")), name=link.attrs.get("name", ""),
                direction=link.attrs.get("direction", ""), color=(link.attrs.get("color") or "").strip(),
                origin=guid_key(link.attrs.get("originGUID")), target=guid_key(link.attrs.get("targetGUID")),
                note_refs=_refs(link, "NoteRef")))

    def read_Sets(self, node):
        for set_node in node.all("Set"):
            self.project.sets.append(_read_set(set_node, self.file_name))

    def read_Graphs(self, node):
        self.project.graphs += len(node.all("Graph"))

    def read_Description(self, node):
        self.project.description = node.content()

    def read_NoteRef(self, node):
        if node.attrs.get("targetGUID"):
            self.project.note_refs.append(guid_key(node.attrs["targetGUID"]))

    # --- sources

    def _text(self, node, required=True):
        """(text, where it came from) of a TextSource or Note; (None, reason) when there is none."""
        rich = node.attrs.get("richTextPath", "")
        if rich and self.files is not None and self.files.find(rich):
            self.files.used.add(self.files.find(rich))  # named by the project, even when the plain text is read
        content = node.child("PlainTextContent")
        if content is not None:
            return _strip_bom(content.content()), "PlainTextContent"
        path = node.attrs.get("plainTextPath", "")
        if path and self.files is not None:
            entry = self.files.find(path)
            if entry is not None:
                try:
                    return _decode(self.files.read(entry)), entry
                except UnicodeDecodeError as error:
                    self.project.problem(self.at(node).where, "plainTextPath", path,
                                         f"{entry} is not UTF-8 text (byte {error.start} cannot be read)")
                    return None, "unreadable"
                except (ValueError, zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError,
                        OSError) as error:
                    self.project.problem(self.at(node).where, "plainTextPath", path, f"{entry} cannot be read: {error}")
                    return None, "unreadable"
        if rich and self.files is not None:
            entry = self.files.find(rich)
            if entry is not None:
                from evidence.documents import DocumentRefused, extract

                try:
                    document = extract(self.files.read(entry), entry)
                except (DocumentRefused, ValueError, zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError,
                        RuntimeError) as error:
                    self.project.problem(self.at(node).where, "richTextPath", rich,
                                         f"{entry}: {getattr(error, 'message', error)}")
                    return None, "unreadable"
                return document.text, f"{entry} (extracted)"
        if path or rich:
            missing = path or rich
            if required:
                self.project.problem(self.at(node).where, "plainTextPath" if path else "richTextPath", missing,
                                     "the archive holds no such file" if self.files is not None
                                     else "a codebook or project without its archive has no source files")
            return None, "missing"
        return None, "none"

    def _source(self, node):
        kind = node.tag
        source = Source(
            at=self.at(node), guid=guid_key(node.attrs.get("guid")), name=node.attrs.get("name", ""), kind=kind,
            rich_text_path=node.attrs.get("richTextPath", ""), plain_text_path=node.attrs.get("plainTextPath", ""),
            description=_description(node), creating_user=guid_key(node.attrs.get("creatingUser")),
            created=parse_datetime(node.attrs.get("creationDateTime")),
            variables=_variable_values(node, self.file_name), note_refs=_refs(node, "NoteRef"),
            codings=[self._coding(c, None) for c in node.all("Coding")],
        )
        if kind != "TextSource":
            for child in node.children:
                if child.tag.endswith("Selection"):
                    source.other_selections += 1
                elif child.tag in ("Transcript", "Representation", "TextDescription"):
                    source.other_selections += sum(1 for c in child.children if c.tag.endswith("Selection"))
            return source
        source.text, source.text_from = self._text(node, required=bool(node.all("PlainTextSelection")))
        for selection in node.all("PlainTextSelection"):
            source.selections.append(self._selection(selection))
        return source

    def _selection(self, node):
        at = self.at(node)
        positions = []
        for attribute in ("startPosition", "endPosition"):
            raw = node.attrs.get(attribute)
            try:
                positions.append(int((raw or "").strip()))
            except ValueError:
                self.project.problem(at.where, attribute, raw,
                                     "missing" if raw is None else "not a whole number of characters")
                positions.append(None)
        user = guid_key(node.attrs.get("creatingUser"))
        created = parse_datetime(node.attrs.get("creationDateTime"))
        selection = Selection(at=at, guid=guid_key(node.attrs.get("guid")), name=node.attrs.get("name", ""),
                              start=positions[0], end=positions[1], creating_user=user, created=created,
                              description=_description(node), note_refs=_refs(node, "NoteRef"))
        selection.codings = [self._coding(c, selection) for c in node.all("Coding")]
        return selection

    def _coding(self, node, selection):
        ref = node.child("CodeRef")
        at = self.at(node)
        code = guid_key(ref.attrs.get("targetGUID")) if ref is not None else None
        if code is None:
            self.project.problem(at.where, "CodeRef", "", "a coding without the code it applies (<CodeRef targetGUID>)")
        # A coding without its own user or date is its selection's (NVivo writes them on the selection).
        return Coding(at=at, guid=guid_key(node.attrs.get("guid")), code=code,
                      creating_user=guid_key(node.attrs.get("creatingUser")) or (selection.creating_user if selection else None),
                      created=parse_datetime(node.attrs.get("creationDateTime")) or (selection.created if selection else None),
                      note_refs=_refs(node, "NoteRef"))


def _strip_bom(text):
    return text[1:] if text.startswith("\ufeff") else text


# --- Offsets ------------------------------------------------------------------------------------


def has_astral(text):
    """Whether the text has characters outside the Basic Multilingual Plane (UTF-16 counts them 2)."""
    return any(ord(char) > 0xFFFF for char in text) if not text.isascii() else False


def utf16_length(text):
    return len(text.encode("utf-16-le")) // 2


class Utf16Positions:
    """Code-point positions of UTF-16 positions in one text: ``codepoint(unit)`` is None when the
    unit falls inside a surrogate pair (between the two halves of one character)."""

    def __init__(self, text):
        self.astral = has_astral(text)
        self.length = utf16_length(text) if self.astral else len(text)
        if not self.astral:
            return
        table = []
        for index, char in enumerate(text):
            table.append(index)
            if ord(char) > 0xFFFF:
                table.append(None)
        table.append(len(text))
        self.table = table

    def codepoint(self, unit):
        if not self.astral:
            return unit if 0 <= unit <= self.length else None
        if unit < 0 or unit >= len(self.table):
            return None
        return self.table[unit]
