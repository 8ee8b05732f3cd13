"""project.qde: users, sources with their selections and codings, cases, notes, links, variables.

Part of the REFI-QDA export (evidence/refi_qda/__init__.py says how the knowledge base maps
onto QDA-XML)."""

import xml.etree.ElementTree as ET

from evidence.refi_qda.schema import (
    ORIGIN,
    PROJECT_NS,
    VARIABLES,
    _datetime,
    _lines,
    _q,
    _serialise,
    _sub,
    _user_guid,
    configuration_code_guid,
    guid,
    selection_guid,
    source_file_name,
    source_guid,
    statement_note_guid,
)
from evidence.refi_qda.codebook import _add_sets, _choices, _code_element, _lookups, build_codes


def _variable_value(parent, key, kind, value):
    if value in (None, ""):
        return
    element = _sub(parent, _q(PROJECT_NS, "VariableValue"))
    _sub(element, _q(PROJECT_NS, "VariableRef"), {"targetGUID": guid("variable", key)})
    _sub(element, _q(PROJECT_NS, f"{kind}Value"), text=value)


def _audit(row, lookups):
    """creatingUser/creationDateTime/modifyingUser/modifiedDateTime of a curated row."""
    creator = lookups["user"].get(row.created_by_id)
    modifier = lookups["user"].get(row.updated_by_id)
    return {
        "creatingUser": _user_guid(creator.username) if creator else None,
        "creationDateTime": _datetime(row.created_at),
        "modifyingUser": _user_guid(modifier.username) if modifier else None,
        "modifiedDateTime": _datetime(row.updated_at),
    }


def _selection_name(excerpt, kinds):
    if excerpt.attribution:
        return excerpt.attribution
    section = [part.strip() for part in excerpt.section.replace(">", "›").split("›") if part.strip()]
    label = kinds.get(excerpt.kind, excerpt.kind)
    return f"{label}: {section[-1]}" if section else f"{label} {excerpt.slug}"


def build_project_xml(data):
    """The project.qde document (urn:QDA-XML:project:1.0), as UTF-8 bytes."""
    ExcerptKind, Part = _choices()
    kinds = dict(ExcerptKind.choices)
    ns = PROJECT_NS
    lookups = _lookups(data)
    exported_rows = [*data.configurations, *data.sources, *data.excerpts, *data.links, *data.teams]
    latest = max((row.updated_at for row in exported_rows if row.updated_at), default=None)
    root = ET.Element(_q(ns, "Project"), {
        k: v for k, v in {
            "name": "CMO KB" + (" (with drafts)" if data.include_drafts else ""),
            "origin": ORIGIN,
            "modifiedDateTime": _datetime(latest),
        }.items() if v
    })

    # Element order inside Project is fixed by the schema.
    if data.users:
        users = _sub(root, _q(ns, "Users"))
        for user in data.users:
            _sub(users, _q(ns, "User"), {"guid": _user_guid(user.username),
                                          "name": user.get_full_name() or user.username, "id": user.username})

    codebook = _sub(root, _q(ns, "CodeBook"))
    codes = _sub(codebook, _q(ns, "Codes"))
    for code in build_codes(data, with_notes=True):
        _code_element(codes, ns, code, with_notes=True)

    variables = _sub(root, _q(ns, "Variables"))
    for key, name, kind, description in VARIABLES:
        element = _sub(variables, _q(ns, "Variable"), {"guid": guid("variable", key), "name": name, "typeOfVariable": kind})
        _sub(element, _q(ns, "Description"), text=description)

    excerpts_by_team = {}
    for excerpt in data.excerpts:
        if excerpt.team_id:
            excerpts_by_team.setdefault(excerpt.team_id, []).append(excerpt)
    if data.teams:
        cases = _sub(root, _q(ns, "Cases"))
        for team in data.teams:
            case = _sub(cases, _q(ns, "Case"), {"guid": guid("case", "team", team.slug), "name": team.name})
            if team.objective:
                _sub(case, _q(ns, "Description"), text=team.objective)
            _variable_value(case, "team-short-name", "Text", team.short_name)
            _variable_value(case, "team-organisation", "Text", team.organisation)
            _variable_value(case, "programme", "Text", team.programme.name)
            for excerpt in excerpts_by_team.get(team.pk, []):
                _sub(case, _q(ns, "SelectionRef"), {"targetGUID": selection_guid(excerpt.slug)})

    links_by_excerpt = {}
    for link in data.links:
        links_by_excerpt.setdefault(link.excerpt_id, []).append(link)
    excerpts_by_source = {}
    for excerpt in data.excerpts:
        excerpts_by_source.setdefault(excerpt.source_id, []).append(excerpt)
    if data.sources:
        sources = _sub(root, _q(ns, "Sources"))
        for source in data.sources:
            element = _sub(sources, _q(ns, "TextSource"), {
                "guid": source_guid(source.slug),
                "name": source.title,
                "plainTextPath": f"internal://{source_file_name(source.slug)}",
                **_audit(source, lookups),
            })
            description = _lines(("Authors", source.authors), ("Publisher", source.publisher),
                                 ("Date", source.date.isoformat() if source.date else None), ("URL", source.url),
                                 ("CMO KB slug", source.slug))
            _sub(element, _q(ns, "Description"), text=description)
            for excerpt in excerpts_by_source.get(source.pk, []):
                _selection(element, excerpt, links_by_excerpt.get(excerpt.pk, []), lookups, kinds, data.internal_notes)
            _variable_value(element, "source-kind", "Text", source.kind.name)
            _variable_value(element, "source-date", "Date", source.date.isoformat() if source.date else None)
            _variable_value(element, "source-authors", "Text", source.authors)
            _variable_value(element, "source-publisher", "Text", source.publisher)
            _variable_value(element, "programme", "Text", source.programme.name if source.programme else None)

    notes = []
    for configuration in data.configurations:
        notes.append((statement_note_guid(configuration.slug), f"Statement: {configuration.title}",
                      configuration.statement, configuration))
    for link in data.links:
        if link.note.strip():
            notes.append((guid("note", "evidence-link", *_link_key(link, lookups)), "Evidence link note", link.note, link))
    if notes:
        notes_element = _sub(root, _q(ns, "Notes"))
        for note_guid, name, text, row in notes:
            note = _sub(notes_element, _q(ns, "Note"), {"guid": note_guid, "name": name, **_audit(row, lookups)})
            _sub(note, _q(ns, "PlainTextContent"), text=text)

    if data.links:
        links = _sub(root, _q(ns, "Links"))
        for link in data.links:
            excerpt = lookups["excerpt"][link.excerpt_id]
            configuration = lookups["configuration"][link.configuration_id]
            element = _sub(links, _q(ns, "Link"), {
                "guid": guid("link", *_link_key(link, lookups)),
                "name": f"{link.get_stance_display().lower()} ({link.get_part_display().lower()})",
                "direction": "OneWay",
                "originGUID": selection_guid(excerpt.slug),
                "targetGUID": configuration_code_guid(configuration.slug),
            })
            if link.note.strip():
                _sub(element, _q(ns, "NoteRef"), {"targetGUID": guid("note", "evidence-link", *_link_key(link, lookups))})

    _add_sets(root, ns, data, member_attribute="targetGUID")

    scope = ("published, draft and in-review CMO configurations" if data.include_drafts
             else "published CMO configurations only")
    _sub(root, _q(ns, "Description"), text=(
        f"Exported from CMO KB, a realist-evaluation knowledge base ({scope}). Codes: enabling mechanisms "
        "with their themes and, under them, one code per CMO configuration; Wish dimensions and poles; quality "
        "domains; outcome kinds and outcomes; contexts; CMO parts; speaker roles; excerpt kinds. Each source's "
        "evidence excerpts are selections coded with the configurations they evidence; cases are teams; links "
        "say whether an excerpt supports, challenges or illustrates a configuration."
    ))
    return _serialise(root, ns)


def _link_key(link, lookups):
    return (lookups["excerpt"][link.excerpt_id].slug, lookups["configuration"][link.configuration_id].slug, link.part)


def _selection(parent, excerpt, links, lookups, kinds, internal_notes):
    ns = PROJECT_NS
    element = _sub(parent, _q(ns, "PlainTextSelection"), {
        "guid": selection_guid(excerpt.slug),
        "name": _selection_name(excerpt, kinds),
        "startPosition": str(excerpt.start),
        "endPosition": str(excerpt.end),
        **_audit(excerpt, lookups),
    })
    team = lookups["team"].get(excerpt.team_id)
    role = lookups["speaker_role"].get(excerpt.speaker_role_id)
    _sub(element, _q(ns, "Description"), text=_lines(
        ("Section", excerpt.section),
        ("Attribution", excerpt.attribution),
        ("Kind", kinds.get(excerpt.kind, excerpt.kind)),
        ("Team", team.name if team else None),
        ("Speaker", role.name if role else None),
        ("Wave", excerpt.wave.name if excerpt.wave else None),
        ("Curator's note (internal)", excerpt.note.strip() if internal_notes else None),
        ("CMO KB slug", excerpt.slug),
    ))
    code_guids = []
    configurations = sorted({lookups["configuration"][link.configuration_id].slug for link in links})
    code_guids += [configuration_code_guid(slug) for slug in configurations]
    parts = {link.part for link in links}
    _, Part = _choices()
    code_guids += [guid("code", "part", value) for value in Part.values if value in parts]
    if role:
        code_guids.append(guid("code", "speaker-role", role.slug))
    code_guids.append(guid("code", "excerpt-kind", excerpt.kind))
    for code_guid in code_guids:
        coding = _sub(element, _q(ns, "Coding"), {"guid": guid("coding", excerpt.slug, code_guid)})
        _sub(coding, _q(ns, "CodeRef"), {"targetGUID": code_guid})
    return element
