"""A .qdpx reduced to what a round trip must keep, so two projects can be compared as data.

Issue 12: our own export imports into an empty programme and exports again to the same project:
"same codes, selections, codings, cases, notes, links and texts; dates and the project's own GUID may
differ". ``canonical(payload)`` keeps exactly those, keyed by GUID:

- codes: name, colour, codable, description, parent GUID and place among its siblings (the tree);
- sources: name and text (from sources/<file> or PlainTextContent);
- selections: source GUID, offsets, and codings as sorted (code GUID, coder's name) pairs;
- cases: name and the GUIDs of their selections;
- notes: name, text, and what refers to them: sorted (element tag, GUID of the element) pairs;
- links: name, direction, colour, origin and target GUIDs.

Left out: dates, users' GUIDs (a coder is compared by name: an import makes new accounts), the
project's GUID, names and attributes of the project itself, variables, sets, selection names and
descriptions, and coding GUIDs (a coding is its code and coder on its selection).

``differences(a, b)`` lists how two canonical projects differ, readable in an assertion message.
"""

import io
import zipfile
from xml.etree import ElementTree as ET

P = "{urn:QDA-XML:project:1.0}"


def _guid(value):
    """GUIDs compare case-insensitively and without braces (tools write either)."""
    if value is None:
        return None
    value = value.strip().lower()
    return value[1:-1] if value.startswith("{") and value.endswith("}") else value


def _text(element, tag):
    child = element.find(P + tag)
    return (child.text or "") if child is not None else ""


def canonical(payload):
    """The comparable content of a .qdpx (bytes)."""
    archive = zipfile.ZipFile(io.BytesIO(payload))
    names = {name.lower(): name for name in archive.namelist()}
    root = ET.fromstring(archive.read("project.qde"))
    users = {_guid(user.get("guid")): user.get("name") or user.get("id") for user in root.iter(P + "User")}

    codes = {}

    def walk(parent_element, parent_guid):
        for position, code in enumerate(parent_element.findall(P + "Code")):
            codes[_guid(code.get("guid"))] = {
                "name": code.get("name"),
                "color": (code.get("color") or "").upper() or None,
                "codable": code.get("isCodable") == "true",
                "description": _text(code, "Description"),
                "parent": parent_guid,
                "position": position,
            }
            walk(code, _guid(code.get("guid")))

    codebook = root.find(P + "CodeBook")
    if codebook is not None:
        walk(codebook.find(P + "Codes"), None)

    sources, selections = {}, {}
    for source in root.iter(P + "TextSource"):
        path = source.get("plainTextPath")
        if path:
            name = path.removeprefix("internal://")
            member = names.get(f"sources/{name}".lower()) or names.get(name.lower())
            text = archive.read(member).decode("utf-8-sig") if member else None
        else:
            text = _text(source, "PlainTextContent")
        sources[_guid(source.get("guid"))] = {"name": source.get("name"), "text": text}
        for selection in source.findall(P + "PlainTextSelection"):
            selections[_guid(selection.get("guid"))] = {
                "source": _guid(source.get("guid")),
                "start": int(selection.get("startPosition")),
                "end": int(selection.get("endPosition")),
                "codings": sorted(
                    (_guid(coding.find(P + "CodeRef").get("targetGUID")), users.get(_guid(coding.get("creatingUser"))))
                    for coding in selection.findall(P + "Coding")
                ),
            }

    cases = {
        _guid(case.get("guid")): {
            "name": case.get("name"),
            "selections": sorted(_guid(ref.get("targetGUID")) for ref in case.findall(P + "SelectionRef")),
        }
        for case in root.iter(P + "Case")
    }

    referrers = {}
    for element in root.iter():
        for ref in element.findall(P + "NoteRef"):
            referrers.setdefault(_guid(ref.get("targetGUID")), []).append(
                (element.tag.removeprefix(P), _guid(element.get("guid"))))
    notes = {
        _guid(note.get("guid")): {
            "name": note.get("name"),
            "text": _text(note, "PlainTextContent"),
            "refs": sorted(referrers.get(_guid(note.get("guid")), [])),
        }
        for note in root.iter(P + "Note")
    }

    links = {
        _guid(link.get("guid")): {
            "name": link.get("name"),
            "direction": link.get("direction"),
            "color": (link.get("color") or "").upper() or None,
            "origin": _guid(link.get("originGUID")),
            "target": _guid(link.get("targetGUID")),
        }
        for link in root.iter(P + "Link")
    }
    return {"codes": codes, "sources": sources, "selections": selections, "cases": cases, "notes": notes,
            "links": links}


def differences(a, b, limit=20):
    """How canonical project `b` differs from `a`: ["codes <guid>: only in the first", "selections
    <guid> codings: [...] != [...]", ...], at most `limit` lines (then a count of the rest)."""
    found = []
    for part in a.keys() | b.keys():
        left, right = a.get(part, {}), b.get(part, {})
        for key in sorted(left.keys() - right.keys()):
            found.append(f"{part} {key}: only in the first ({left[key]})")
        for key in sorted(right.keys() - left.keys()):
            found.append(f"{part} {key}: only in the second ({right[key]})")
        for key in sorted(left.keys() & right.keys()):
            for field in sorted(left[key].keys() | right[key].keys()):
                if left[key].get(field) != right[key].get(field):
                    found.append(f"{part} {key} {field}: {left[key].get(field)!r} != {right[key].get(field)!r}")
    found.sort()
    if len(found) > limit:
        found = found[:limit] + [f"... and {len(found) - limit} more"]
    return found


def summary(project):
    """Counts per part, e.g. {"codes": 120, "selections": 900, "codings": 2400, ...}."""
    counts = {part: len(rows) for part, rows in project.items()}
    counts["codings"] = sum(len(selection["codings"]) for selection in project["selections"].values())
    return counts
