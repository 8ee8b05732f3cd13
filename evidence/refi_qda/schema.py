"""QDA-XML's vocabulary as this export writes it: namespaces, GUIDs (uuid5 over natural keys),
source file names, the variables, and the small XML helpers every part uses.

Part of the REFI-QDA export (evidence/refi_qda/__init__.py says how the knowledge base maps
onto QDA-XML)."""

import hashlib
import re
import uuid
import xml.etree.ElementTree as ET
from datetime import timezone


PROJECT_NS = "urn:QDA-XML:project:1.0"
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
ORIGIN = "CMO KB"
# Fixed, so GUIDs are stable across installations and releases.
GUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:cmo-kb:refi-qda:1")
# 1980-01-01 is the earliest time a ZIP entry can carry; a fixed stamp keeps the archive byte-stable.
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
ENABLER_COLOR = "#2E7D32"
BARRIER_COLOR = "#C62828"


_NAMESPACE_BYTES = GUID_NAMESPACE.bytes


def guid(*key):
    """An 8-4-4-4-12 GUID derived from a natural key, e.g. guid("code", "configuration", slug).

    str(uuid.uuid5(GUID_NAMESPACE, name)) without the UUID object (a project export makes millions):
    SHA-1 of namespace + name, version 5, RFC 4122 variant (tests check it against uuid5)."""
    name = "\x1f".join(str(part) for part in key)
    digest = hashlib.sha1(_NAMESPACE_BYTES + name.encode("utf-8")).hexdigest()
    variant = "89ab"[int(digest[16], 16) & 0x3]
    return f"{digest[:8]}-{digest[8:12]}-5{digest[13:16]}-{variant}{digest[17:20]}-{digest[20:32]}"


# --- Small helpers -------------------------------------------------------------------------------


# What XML 1.0 cannot carry: most control characters (PDF extraction leaves some), surrogates,
# U+FFFE and U+FFFF.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(value):
    """XML 1.0 cannot carry most control characters (PDF extraction leaves some): drop them."""
    text = "" if value is None else str(value)
    return _NOT_XML.sub("", text)


def _datetime(value):
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sub(parent, tag, attrs=None, text=None):
    element = ET.SubElement(parent, tag, {k: _xml_text(v) for k, v in (attrs or {}).items() if v not in (None, "")})
    if text is not None:
        element.text = _xml_text(text)
    return element


def _q(ns, tag):
    # Tags stay unqualified and the root carries xmlns="...": ElementTree's default_namespace
    # option refuses unqualified attributes, and register_namespace would change global state.
    return tag


def _serialise(root, ns):
    root.attrib = {"xmlns": ns, **root.attrib}
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _lines(*pairs):
    return "\n".join(f"{label}: {value}" for label, value in pairs if value not in (None, "", []))


def _user_guid(username):
    return guid("user", username)


def term_code_guid(kind, programme_slug, slug):
    """The code of a programme's own term (mechanism, theme, context, outcome, speaker role): its slug
    is unique within its programme only, so the programme's slug is part of the key (two programmes'
    `leadership` contexts are two codes)."""
    return guid("code", kind, programme_slug, slug)


def configuration_code_guid(slug):
    return guid("code", "configuration", slug)


def statement_note_guid(slug):
    return guid("note", "configuration-statement", slug)


# --- The project ---------------------------------------------------------------------------------

VARIABLES = [
    # (key, name, type, description)
    ("source-kind", "Source kind", "Text", "What kind of document the source is."),
    ("source-date", "Date", "Date", "When the source was published."),
    ("source-authors", "Authors", "Text", "Who wrote the source."),
    ("source-publisher", "Publisher", "Text", "Who published the source."),
    ("programme", "Programme", "Text", "The funded programme the source or team belongs to."),
    ("team-short-name", "Short name", "Text", "The name the sources use for the team."),
    ("team-organisation", "Organisation", "Text", "The team's lead organisation."),
]


def source_guid(slug):
    return guid("source", slug)


def selection_guid(slug):
    return guid("selection", slug)


def imported_or(qda_guid, derived):
    """The GUID an object was imported with (its qda_guid, normalised), else `derived`."""
    if qda_guid:
        from evidence.codes import normalise_guid

        return normalise_guid(qda_guid) or derived
    return derived


def excerpt_selection_guid(slug, qda_guid):
    """An excerpt's PlainTextSelection GUID: the one it was imported with, else derived from its slug."""
    return imported_or(qda_guid, None) or selection_guid(slug)


def source_file_name(slug):
    return f"{source_guid(slug)}.txt"
