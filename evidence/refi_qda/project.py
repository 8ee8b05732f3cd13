"""project.qde: users, sources with their selections and codings, cases, notes, links, variables.

Written as a stream of text pieces (``iter_project_xml``), never as one tree: the small parts (codebook,
variables, sets) are built from the snapshot in memory, while selections, case references, notes and
links are read row by row from querysets streamed with ``.iterator(chunk_size=...)`` (data.py's
STREAM_QUERIES) and each small element is serialised as soon as it is built. The output is the same as
ElementTree's ``indent`` + ``tostring`` of the whole document would be, byte for byte.

Part of the REFI-QDA export (evidence/refi_qda/__init__.py says how the knowledge base maps
onto QDA-XML)."""

import functools
import xml.etree.ElementTree as ET

from evidence.refi_qda.schema import (
    ORIGIN,
    _xml_text,
    PROJECT_NS,
    VARIABLES,
    _datetime,
    _lines,
    _q,
    _sub,
    _user_guid,
    configuration_code_guid,
    excerpt_selection_guid,
    guid,
    source_guid,
    statement_note_guid,
    term_code_guid,
)
from evidence.refi_qda.codebook import _add_sets, _choices, _code_element, _lookups, build_codes

INDENT = "  "


def _variable_value(parent, key, kind, value):
    if value in (None, ""):
        return
    element = _sub(parent, _q(PROJECT_NS, "VariableValue"))
    _sub(element, _q(PROJECT_NS, "VariableRef"), {"targetGUID": guid("variable", key)})
    _sub(element, _q(PROJECT_NS, f"{kind}Value"), text=value)


def _audit(lookups, created_by_id, created_at, updated_by_id, updated_at):
    """creatingUser/creationDateTime/modifyingUser/modifiedDateTime of a curated row."""
    creator = lookups["user"].get(created_by_id)
    modifier = lookups["user"].get(updated_by_id)
    return {
        "creatingUser": _user_guid(creator.username) if creator else None,
        "creationDateTime": _datetime(created_at),
        "modifyingUser": _user_guid(modifier.username) if modifier else None,
        "modifiedDateTime": _datetime(updated_at),
    }


def _row_audit(row, lookups):
    return _audit(lookups, row.created_by_id, row.created_at, row.updated_by_id, row.updated_at)


def _selection_name(excerpt, kinds):
    if excerpt["attribution"]:
        return excerpt["attribution"]
    section = [part.strip() for part in excerpt["section"].replace(">", "›").split("›") if part.strip()]
    label = kinds.get(excerpt["kind"], excerpt["kind"])
    return f"{label}: {section[-1]}" if section else f"{label} {excerpt['slug']}"


# --- Serialising piece by piece --------------------------------------------------------------------


def _open_tag(element):
    """'<Tag attr="...">' with ElementTree's own escaping."""
    return ET.tostring(ET.Element(element.tag, element.attrib), encoding="unicode")[: -len(" />")] + ">"


def _serialised(element, level):
    """A small element as it appears `level` deep in an indented document (no leading newline)."""
    ET.indent(element, space=INDENT, level=level)
    return ET.tostring(element, encoding="unicode")


# ElementTree's escapes of an attribute value, "&" first.
_ATTRIBUTE_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("\r", "&#13;"), ("\n", "&#10;"), ("\t", "&#09;"))


def _attrs(attrs):
    """ attr="value" pairs, escaped as ElementTree escapes them; empty values left out (as _sub)."""
    out = []
    for key, value in attrs.items():
        if value in (None, ""):
            continue
        text = _xml_text(value)
        for raw, entity in _ATTRIBUTE_ESCAPES:
            if raw in text:  # (the test first: most values need no escape, and `in` is cheap)
                text = text.replace(raw, entity)
        out.append(f' {key}="{text}"')
    return "".join(out)


def _leaf(tag, attrs=None, text=None):
    """A childless element as ElementTree writes it (short empty elements)."""
    text = _xml_text(text) if text is not None else ""
    if not text:
        return f"<{tag}{_attrs(attrs or {})} />"
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return f"<{tag}{_attrs(attrs or {})}>{text}</{tag}>"


def _tree(element, level):
    """An element of any size `level` deep, as pieces no bigger than one of its leaves (the codebook
    holds a code per configuration: one string of it all would be hundreds of MB at 100k)."""
    if not len(element):
        yield _serialised(element, level)
        return
    pad = "\n" + INDENT * level
    yield _open_tag(element)
    for child in element:
        yield pad + INDENT
        yield from _tree(child, level + 1)
    yield f"{pad}</{element.tag}>"


def _streamed(element, level, *more, optional=False):
    """`element` (with the children it already has) followed by the elements of the iterables in
    `more`, `level` deep, as text pieces starting with its own line break and indentation. Left
    without children it closes itself as ElementTree writes it, or (optional) is left out."""
    pad = "\n" + INDENT * level
    opened = False
    for child in (child for children in (list(element), *more) for child in children):
        if not opened:
            yield pad + _open_tag(element)
            opened = True
        if isinstance(child, _Pieces):
            yield from child.pieces
        elif isinstance(child, str):  # written by hand, with its line break and indentation
            yield child
        else:
            yield pad + INDENT + _serialised(child, level + 1)
    if opened:
        yield f"{pad}</{element.tag}>"
    elif not optional:
        yield pad + ET.tostring(element, encoding="unicode")


class _Pieces:
    """A child already serialised as pieces (a streamed element inside a streamed element)."""

    def __init__(self, pieces):
        self.pieces = pieces


# --- The document ----------------------------------------------------------------------------------


def iter_project_xml(data, rows):
    """The project.qde document (urn:QDA-XML:project:1.0) as str pieces. `data` is the snapshot
    (load_export_data), `rows` the streamed evidence (data.StreamedRows)."""
    ExcerptKind, _ = _choices()
    kinds = dict(ExcerptKind.choices)
    ns = PROJECT_NS
    lookups = _lookups(data)
    latest = max(
        (stamp for stamp in (
            *(row.updated_at for row in (*data.configurations, *data.sources, *data.teams)),
            rows.latest_excerpt_change(), rows.latest_link_change(),
        ) if stamp),
        default=None,
    )
    root = ET.Element(_q(ns, "Project"), {"xmlns": ns, **{
        k: v for k, v in {
            "name": project_name(data),
            "origin": ORIGIN,
            "modifiedDateTime": _datetime(latest),
        }.items() if v
    }})
    yield "<?xml version='1.0' encoding='utf-8'?>\n"
    yield _open_tag(root)

    def top(element):
        yield "\n" + INDENT
        yield from _tree(element, 1)

    # Element order inside Project is fixed by the schema.
    if data.users:
        users = ET.Element(_q(ns, "Users"))
        for user in data.users:
            _sub(users, _q(ns, "User"), {"guid": _user_guid(user.username),
                                          "name": user.get_full_name() or user.username, "id": user.username})
        yield from top(users)

    codebook = ET.Element(_q(ns, "CodeBook"))
    codes = _sub(codebook, _q(ns, "Codes"))
    for code in build_codes(data, with_notes=True):
        _code_element(codes, ns, code, with_notes=True)
    yield from top(codebook)
    del codebook, codes  # a code per configuration: not kept while the evidence streams

    variables = ET.Element(_q(ns, "Variables"))
    for key, name, kind, description in VARIABLES:
        element = _sub(variables, _q(ns, "Variable"), {"guid": guid("variable", key), "name": name, "typeOfVariable": kind})
        _sub(element, _q(ns, "Description"), text=description)
    yield from top(variables)

    # Each is left out when it would be empty, as the schema wants at least one child.
    yield from _streamed(ET.Element(_q(ns, "Cases")), 1, _cases(data, rows), optional=True)
    yield from _streamed(ET.Element(_q(ns, "Sources")), 1, _sources(data, rows, lookups, kinds), optional=True)
    yield from _streamed(ET.Element(_q(ns, "Notes")), 1, _notes(data, rows, lookups), optional=True)
    yield from _streamed(ET.Element(_q(ns, "Links")), 1, _links(rows, lookups, data.memo_relations), optional=True)

    tail = ET.Element("Tail")
    _add_sets(tail, ns, data, member_attribute="targetGUID")
    scope = ("published, draft and in-review CMO configurations" if data.include_drafts
             else "published CMO configurations only")
    held = "; ".join(f"{p.name} ({p.slug})" for p in data.programmes) or "none"
    _sub(tail, _q(ns, "Description"), text=(
        f"Exported from CMO KB, a realist-evaluation knowledge base ({scope}). "
        f"Programme{'s' if len(data.programmes) != 1 else ''}: {held}. Codes: enabling mechanisms "
        "with their themes and, under them, one code per CMO configuration; Wish dimensions and poles; quality "
        "domains; outcome kinds and outcomes; contexts; CMO parts; speaker roles; excerpt kinds. Each source's "
        "evidence excerpts are selections coded with the configurations they evidence; cases are teams; links "
        "say whether an excerpt supports, challenges or illustrates a configuration."
    ))
    for element in tail:
        yield from top(element)
    yield "\n</Project>\n"


def project_name(data):
    """"CMO KB: <programmes>", "(with drafts)" when it holds drafts: what a QDA tool shows first."""
    names = ", ".join(p.short_name or p.name for p in data.programmes)
    return "CMO KB" + (f": {names}" if names else "") + (" (with drafts)" if data.include_drafts else "")


def _rows_of(rows, key, value):
    """The leading run of `rows` (a peekable iterator of tuples/dicts) whose `key` equals `value`."""
    while rows.peek() is not None and rows.peek()[key] == value:
        yield next(rows)


def _cases(data, rows):
    ns = PROJECT_NS
    by_team = rows.excerpts_by_team()
    for team in data.teams:
        case_guid = data.case_guids.get(team.pk) or guid("case", "team", team.slug)
        case = ET.Element(_q(ns, "Case"), {"guid": case_guid, "name": team.name})
        if team.objective:
            _sub(case, _q(ns, "Description"), text=team.objective)
        _variable_value(case, "team-short-name", "Text", team.short_name)
        _variable_value(case, "team-organisation", "Text", team.organisation)
        _variable_value(case, "programme", "Text", team.programme.name)
        pad = "\n" + INDENT * 3
        refs = (f'{pad}<SelectionRef targetGUID="{excerpt_selection_guid(slug, qda_guid)}" />'
                for _, slug, qda_guid in _rows_of(by_team, 0, team.pk))
        yield _Pieces(_streamed(case, 2, refs))
    by_team.exhausted()


def _sources(data, rows, lookups, kinds):
    ns = PROJECT_NS
    selections = rows.selections()
    codings, memos = rows.codings(), rows.excerpt_memos()
    for source in data.sources:
        text_source_guid = data.source_guids.get(source.pk) or source_guid(source.slug)
        element = ET.Element(_q(ns, "TextSource"), {k: _xml_text(v) for k, v in {
            "guid": text_source_guid,
            "name": source.title,
            "plainTextPath": f"internal://{text_source_guid}.txt",
            **_row_audit(source, lookups),
        }.items() if v not in (None, "")})
        description = _lines(("Authors", source.authors), ("Publisher", source.publisher),
                             ("Date", source.date.isoformat() if source.date else None), ("URL", source.url),
                             ("CMO KB slug", source.slug))
        _sub(element, _q(ns, "Description"), text=description)
        trailing = ET.Element("Trailing")
        _variable_value(trailing, "source-kind", "Text", source.kind.name)
        _variable_value(trailing, "source-date", "Date", source.date.isoformat() if source.date else None)
        _variable_value(trailing, "source-authors", "Text", source.authors)
        _variable_value(trailing, "source-publisher", "Text", source.publisher)
        _variable_value(trailing, "programme", "Text", source.programme.name if source.programme else None)
        selected = (
            _selection(excerpt, links, lookups, kinds, data.internal_notes,
                       list(_rows_of(codings, 0, excerpt["pk"])), [memo for _, memo in _rows_of(memos, 0, excerpt["pk"])])
            for excerpt, links in _grouped_selections(selections, source.pk, lookups["configuration"])
        )
        note_refs = [ET.Element(_q(ns, "NoteRef"), {"targetGUID": memo}) for memo in data.memo_sources.get(source.pk, [])]
        yield _Pieces(_streamed(element, 2, selected, note_refs, list(trailing)))
    selections.exhausted()
    codings.exhausted()
    memos.exhausted()


def _grouped_selections(selections, source_id, exported):
    """(excerpt row, [(configuration id, part), ...]) for the excerpts of one source: the selections
    query has one row per excerpt and evidence link (or one with no link); only links to `exported`
    configurations (the snapshot's, by pk) count."""
    current, links = None, []
    for row in _rows_of(selections, "source_id", source_id):
        if current is not None and row["pk"] != current["pk"]:
            yield current, links
            links = []
        if current is None or row["pk"] != current["pk"]:
            current = row
        if row["link_configuration_id"] in exported:
            links.append((row["link_configuration_id"], row["link_part"]))
    if current is not None:
        yield current, links


def _notes(data, rows, lookups):
    """The memos (evidence/codes.py Memo), then the derived notes: configuration statements and
    evidence-link notes. A memo imported from one of our own exports has the GUID of the note it came
    from, and wins: the derived note with its GUID is left out (the memos' GUIDs are kept in memory
    meanwhile, one per memo)."""
    written = set()
    for memo_guid, name, text, *audit in rows.memos():
        written.add(memo_guid)
        yield _note(memo_guid, name, text, _audit(lookups, *audit))
    for configuration in data.configurations:
        note_guid = statement_note_guid(configuration.slug)
        if note_guid not in written:
            yield _note(note_guid, f"Statement: {configuration.title}", configuration.statement,
                        _row_audit(configuration, lookups))
    for excerpt_slug, configuration_id, part, note, *audit in rows.link_notes():
        if note.strip():
            key = (excerpt_slug, lookups["configuration"][configuration_id].slug, part)
            note_guid = guid("note", "evidence-link", *key)
            if note_guid not in written:
                yield _note(note_guid, "Evidence link note", note, _audit(lookups, *audit))


def _note(note_guid, name, text, audit):
    pad = "\n" + INDENT * 2
    return (f'{pad}<Note{_attrs({"guid": note_guid, "name": name, **audit})}>'
            f'{pad}{INDENT}{_leaf("PlainTextContent", text=text)}{pad}</Note>')


def _links(rows, lookups, memo_relations=None):
    from evidence.models import EvidenceLink

    stances = dict(EvidenceLink._meta.get_field("stance").flatchoices)
    parts = dict(EvidenceLink._meta.get_field("part").flatchoices)
    pad = "\n" + INDENT * 2
    written = set()
    for relation in rows.relations():
        written.add(relation["guid"])
        memos = (memo_relations or {}).get(relation["pk"], [])
        if memos:
            refs = "".join(f"{pad}{INDENT}{_leaf('NoteRef', {'targetGUID': memo})}" for memo in memos)
            yield f"{pad}<Link{_attrs(_relation_attributes(relation))}>{refs}{pad}</Link>"
        else:
            yield f"{pad}{_leaf('Link', _relation_attributes(relation))}"
    for excerpt_slug, configuration_id, part, stance, note, excerpt_qda_guid in rows.links():
        configuration_slug = lookups["configuration"][configuration_id].slug
        key = (excerpt_slug, configuration_slug, part)
        link_guid = guid("link", *key)
        if link_guid in written:
            continue
        attrs = _attrs({
            "guid": link_guid,
            "name": f"{str(stances.get(stance, stance)).lower()} ({str(parts.get(part, part)).lower()})",
            "direction": "OneWay",
            "originGUID": excerpt_selection_guid(excerpt_slug, excerpt_qda_guid),
            "targetGUID": configuration_code_guid(configuration_slug),
        })
        if note.strip():
            note_ref = _leaf("NoteRef", {"targetGUID": guid("note", "evidence-link", *key)})
            yield f"{pad}<Link{attrs}>{pad}{INDENT}{note_ref}{pad}</Link>"
        else:
            yield f"{pad}<Link{attrs} />"


def _relation_attributes(relation):
    """A Relation's <Link> attributes; an end is a code (its GUID) or an excerpt (its selection's)."""

    def end(name):
        if relation[f"{name}_code__guid"]:
            return relation[f"{name}_code__guid"]
        return excerpt_selection_guid(relation[f"{name}_excerpt__slug"], relation[f"{name}_excerpt__qda_guid"])

    return {"guid": relation["guid"], "name": relation["name"], "direction": relation["direction"],
            "color": relation["colour"], "originGUID": end("origin"), "targetGUID": end("target")}


def _selection(excerpt, links, lookups, kinds, internal_notes, coding_rows=(), memos=()):
    """A PlainTextSelection, three deep (Sources > TextSource > here), written by hand: it is most
    of the document. Its codings: the derived ones (configurations, parts, speaker role, excerpt
    kind), less those whose code a Coding row of the excerpt has, then its Coding rows (`coding_rows`:
    (excerpt id, GUID, code GUID, coder id, created)); then a NoteRef per memo about it."""
    pad = "\n" + INDENT * 3
    slug = excerpt["slug"]
    attrs = _attrs({
        "guid": excerpt_selection_guid(slug, excerpt["qda_guid"]),
        "name": _selection_name(excerpt, kinds),
        "startPosition": str(excerpt["start"]),
        "endPosition": str(excerpt["end"]),
        **_audit(lookups, excerpt["created_by_id"], excerpt["created_at"], excerpt["updated_by_id"],
                 excerpt["updated_at"]),
    })
    team = lookups["team"].get(excerpt["team_id"])
    role = lookups["speaker_role"].get(excerpt["speaker_role_id"])
    description = _leaf("Description", text=_lines(
        ("Section", excerpt["section"]),
        ("Attribution", excerpt["attribution"]),
        ("Kind", kinds.get(excerpt["kind"], excerpt["kind"])),
        ("Team", team.name if team else None),
        ("Speaker", role.name if role else None),
        ("Wave", excerpt["wave__name"]),
        ("Curator's note (internal)", excerpt["note"].strip() if internal_notes else None),
        ("CMO KB slug", slug),
    ))
    code_guids = []
    configurations = sorted({lookups["configuration"][configuration_id].slug for configuration_id, _ in links})
    code_guids += [configuration_code_guid(configuration) for configuration in configurations]
    present = {part for _, part in links}
    code_guids += [_part_guid(value) for value in _part_values() if value in present]  # in Part's order
    if role:
        code_guids.append(term_code_guid("speaker-role", lookups["programme_slug"].get(role.programme_id, ""), role.slug))
    code_guids.append(guid("code", "excerpt-kind", excerpt["kind"]))
    if coding_rows:
        coded = {code_guid for _, _, code_guid, _, _ in coding_rows}
        code_guids = [code_guid for code_guid in code_guids if code_guid not in coded]
    codings = "".join(
        f'{pad}{INDENT}<Coding guid="{guid("coding", slug, code_guid)}">'
        f'{pad}{INDENT * 2}<CodeRef targetGUID="{code_guid}" />{pad}{INDENT}</Coding>'
        for code_guid in code_guids
    )
    for _, coding_guid, code_guid, coder_id, created in coding_rows:
        coder = lookups["user"].get(coder_id)
        attributes = _attrs({"guid": coding_guid, "creatingUser": _user_guid(coder.username) if coder else None,
                             "creationDateTime": _datetime(created)})
        # Stored GUIDs (not derived ones) go through _attrs: escaped whatever a bulk write left in them.
        codings += (f'{pad}{INDENT}<Coding{attributes}>'
                    f'{pad}{INDENT * 2}<CodeRef{_attrs({"targetGUID": code_guid})} />{pad}{INDENT}</Coding>')
    note_refs = "".join(f'{pad}{INDENT}<NoteRef{_attrs({"targetGUID": memo})} />' for memo in memos)
    return (f"{pad}<PlainTextSelection{attrs}>{pad}{INDENT}{description}{codings}{note_refs}"
            f"{pad}</PlainTextSelection>")


@functools.cache
def _part_values():
    _, Part = _choices()
    return tuple(Part.values)


@functools.cache
def _part_guid(value):
    return guid("code", "part", value)
