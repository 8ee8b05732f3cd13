"""The codebook: codes (mechanisms, themes, configurations, vocabularies) and sets, as the .qdc and
as the project's CodeBook and Sets.

Part of the REFI-QDA export (evidence/refi_qda/__init__.py says how the knowledge base maps
onto QDA-XML)."""

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from evidence.refi_qda.schema import (
    BARRIER_COLOR,
    CODEBOOK_NS,
    ENABLER_COLOR,
    ORIGIN,
    _lines,
    _q,
    _serialise,
    _sub,
    configuration_code_guid,
    guid,
    statement_note_guid,
    term_code_guid,
)


# --- The codebook --------------------------------------------------------------------------------


@dataclass
class Code:
    guid: str
    name: str
    codable: bool
    description: str = ""
    color: str = None
    note: str = None  # GUID of a Note (project exports only)
    children: list = field(default_factory=list)
    memos: list = field(default_factory=list)  # GUIDs of the memos about it (project exports only)


def _choices():
    from evidence.models import ExcerptKind, Part

    return ExcerptKind, Part


def _status_suffix(configuration):
    from cmo_kb.vocabulary import ReviewStatus

    if configuration.status == ReviewStatus.PUBLISHED:
        return ""
    return f" [{ReviewStatus(configuration.status).label.lower()}]"


def _configuration_description(configuration, data, lookups):
    teams = [lookups["team"][pk] for pk in data.configuration_teams.get(configuration.pk, [])]
    contexts = [lookups["context"][pk] for pk in data.configuration_contexts.get(configuration.pk, [])]
    outcomes = [lookups["outcome"][pk] for pk in data.configuration_outcomes.get(configuration.pk, [])]
    domains = [lookups["quality_domain"][pk] for pk in data.configuration_quality_domains.get(configuration.pk, [])]
    shifts = [
        f"{lookups['dimension'][s.dimension_id].name} toward {lookups['pole'][s.toward_id].name} ({s.between.name})"
        for s in data.wish_shifts.get(configuration.pk, [])
    ]
    mechanism = lookups["mechanism"].get(configuration.mechanism_id)
    theme = lookups["theme"].get(configuration.theme_id)
    mechanism_text = None
    if mechanism:
        mechanism_text = mechanism.name + (f" › {theme.name}" if theme else "") + f" ({configuration.effect})"
    details = _lines(
        ("Teams", ", ".join(t.short_name or t.name for t in teams)),
        ("Contexts", "; ".join(c.name for c in contexts)),
        ("Activity", configuration.activity.strip()),
        ("Mechanism", mechanism_text),
        ("Resource", configuration.resource.strip()),
        ("Reasoning", configuration.reasoning.strip()),
        ("Outcomes", "; ".join(o.name for o in outcomes)),
        ("Influence", configuration.get_influence_display().lower()),
        ("Wish shifts", "; ".join(shifts)),
        ("Quality domains", ", ".join(d.name for d in domains)),
        ("RAND pathways", " then ".join(data.pathways.get(configuration.pk, []))),
        ("Confidence", configuration.get_confidence_display().lower()),
        ("Status", configuration.get_status_display().lower()),
        ("Curator's notes (internal)", configuration.notes.strip() if data.internal_notes else None),
        ("CMO KB slug", configuration.slug),
    )
    return f"{configuration.statement.strip()}\n\n{details}"


def _lookups(data):
    by_pk = lambda rows: {row.pk: row for row in rows}  # noqa: E731
    return {
        "mechanism": by_pk(data.mechanisms),
        "theme": by_pk(data.themes),
        "dimension": by_pk(data.dimensions),
        "pole": by_pk(data.poles),
        "quality_domain": by_pk(data.quality_domains),
        "outcome_kind": by_pk(data.outcome_kinds),
        "outcome": by_pk(data.outcomes),
        "context": by_pk(data.contexts),
        "team": by_pk(data.teams),
        "speaker_role": by_pk(data.speaker_roles),
        "configuration": by_pk(data.configurations),
        "source": by_pk(data.sources),
        "user": by_pk(data.users),
        "programme_slug": {programme.pk: programme.slug for programme in data.programmes},
    }


def own_code(kind, term, data, lookups):
    """(GUID, name) of the code of a programme's own term: the name carries the programme's short name
    when the export holds several programmes."""
    programme_slug = lookups["programme_slug"].get(term.programme_id, "")
    name = term.name
    if len(data.programmes) > 1:
        programme = next(p for p in data.programmes if p.pk == term.programme_id)
        name = f"{name} ({programme.short_name or programme.name})"
    return term_code_guid(kind, programme_slug, term.slug), name


def build_codes(data, with_notes=False):
    """The code tree (list of top-level Code), the same for projects and codebooks: the codes derived
    from the vocabularies and configurations, merged with the programmes' Code rows (merge_code_rows)."""
    return merge_code_rows(_derived_codes(data, with_notes), data, with_notes)


def merge_code_rows(derived, data, with_notes=False):
    """The derived tree with the programmes' Code rows (evidence/codes.py) merged in, each GUID once.

    Precedence: a Code row wins over a derived code with its GUID. A programme that imported one of
    our own exports holds the whole exported tree as Code rows (the group codes, the shared
    frameworks' codes and the other programme's terms, each with the GUID it was exported with), and
    the project must export again as it came in: so a Code row gives its code's name, description,
    colour, codability, its parent (the code of its parent row) and its place among its siblings
    (order, id). A derived code no Code row has stays where the derived tree puts it (under its
    derived parent, wherever that code now sits), before the Code rows among its siblings; its
    children follow it. So with no Code rows the tree is the derived one, and with a complete
    imported copy it is the imported tree exactly.

    Two programmes exported together may each hold a row with the same GUID (both imported the same
    project): the first programme's row (in the export's programme order) is the code, and the other's
    children and memos join it. NoteRefs: the derived code's statement note, then the rows' memos.
    """
    if not data.codes:
        return derived
    rows = {}
    for row in data.codes:
        rows.setdefault(row.guid, row)
    guid_of = {row.pk: row.guid for row in data.codes}
    derived_by_guid, derived_parent = {}, {}

    def index(codes, parent):
        for code in codes:
            derived_by_guid[code.guid] = code
            derived_parent[code.guid] = parent
            index(code.children, code.guid)

    index(derived, None)
    children = {}  # parent GUID (None: top level) -> [Code]
    nodes = {}
    for code in _walk(derived):  # derived codes first, in the derived tree's order
        if code.guid not in rows:
            nodes[code.guid] = Code(code.guid, code.name, code.codable, code.description, code.color, code.note)
            children.setdefault(derived_parent[code.guid], []).append(nodes[code.guid])
    for row in data.codes:
        node = nodes.get(row.guid)
        if node is None:
            twin = derived_by_guid.get(row.guid)
            node = nodes[row.guid] = Code(row.guid, row.name, row.codable, row.description, row.colour or None,
                                          twin.note if twin else None)
            children.setdefault(guid_of.get(row.parent_id), []).append(node)
        if with_notes:
            node.memos += [memo for memo in data.memo_codes.get(row.pk, []) if memo not in node.memos]
    for code_guid, node in nodes.items():
        node.children = children.get(code_guid, [])
    roots = children.get(None, [])
    # Rows in a cycle of parents (clean() refuses one, the database cannot) reach no root: each such
    # code comes out at the top level, cut from its parent, rather than vanish with its codings.
    reached = {code.guid for code in _walk(roots)}
    for row in data.codes:
        if row.guid not in reached:
            node = nodes[row.guid]
            parent = nodes.get(guid_of.get(row.parent_id))
            if parent is not None:
                parent.children = [child for child in parent.children if child is not node]
            roots.append(node)
            reached.update(code.guid for code in _walk([node]))
    return roots


def _walk(codes):
    for code in codes:
        yield code
        yield from _walk(code.children)


def _derived_codes(data, with_notes=False):
    """The codes derived from the vocabularies and configurations (see the package's docstring)."""
    ExcerptKind, Part = _choices()
    lookups = _lookups(data)

    def configuration_code(configuration):
        return Code(
            guid=configuration_code_guid(configuration.slug),
            name=configuration.title + _status_suffix(configuration),
            codable=True,
            description=_configuration_description(configuration, data, lookups),
            color=BARRIER_COLOR if configuration.influence == "barrier" else ENABLER_COLOR,
            note=statement_note_guid(configuration.slug) if with_notes else None,
        )

    by_theme, by_mechanism, orphans = {}, {}, []
    for configuration in data.configurations:
        if configuration.theme_id in lookups["theme"]:
            by_theme.setdefault(configuration.theme_id, []).append(configuration_code(configuration))
        elif configuration.mechanism_id in lookups["mechanism"]:
            by_mechanism.setdefault(configuration.mechanism_id, []).append(configuration_code(configuration))
        else:
            orphans.append(configuration_code(configuration))

    mechanisms = Code(guid("code", "group", "mechanisms"), "Enabling mechanisms", False,
                      "The report's four enabling mechanisms (section 4), their themes, and under them the CMO "
                      "configurations in which each mechanism was triggered or disabled.")
    for mechanism in data.mechanisms:
        code = Code(*own_code("mechanism", mechanism, data, lookups), True, mechanism.description)
        for theme in data.themes:
            if theme.mechanism_id == mechanism.pk:
                theme_code = Code(*own_code("theme", theme, data, lookups), True, theme.description)
                theme_code.children = by_theme.get(theme.pk, [])
                code.children.append(theme_code)
        code.children.extend(by_mechanism.get(mechanism.pk, []))
        mechanisms.children.append(code)
    codes = [mechanisms]
    if orphans:
        codes.append(Code(guid("code", "group", "configurations-without-mechanism"),
                          "Configurations without a mechanism", False,
                          "Draft configurations that do not name a mechanism yet.", children=orphans))

    wish = Code(guid("code", "group", "wish"), "Wish dimensions", False,
                "Wish's four relationship dimensions, each a spectrum between two poles.")
    for dimension in data.dimensions:
        code = Code(guid("code", "wish-dimension", dimension.slug), dimension.name, True, dimension.description)
        code.children = [
            Code(guid("code", "wish-pole", pole.slug), pole.name, True, pole.description)
            for pole in data.poles
            if pole.dimension_id == dimension.pk
        ]
        wish.children.append(code)
    codes.append(wish)

    codes.append(Code(guid("code", "group", "quality-domains"), "Quality domains", False,
                      "The Institute of Medicine's dimensions of quality.",
                      children=[Code(guid("code", "quality-domain", d.slug), d.name, True, d.description)
                                for d in data.quality_domains]))

    kinds = Code(guid("code", "group", "outcome-kinds"), "Outcome kinds", False, "Outcomes, by kind.")
    for kind in data.outcome_kinds:
        code = Code(guid("code", "outcome-kind", kind.slug), kind.name, True, kind.description)
        code.children = [Code(*own_code("outcome", o, data, lookups), True, o.description)
                         for o in data.outcomes if o.kind_id == kind.pk]
        kinds.children.append(code)
    codes.append(kinds)

    contexts = Code(guid("code", "group", "contexts"), "Contexts", False,
                    "Circumstances that decide whether a mechanism fires, by category.")
    categories = {}
    for context in data.contexts:
        code = Code(*own_code("context", context, data, lookups), True, context.description)
        if context.category:
            if context.category not in categories:
                categories[context.category] = Code(guid("code", "context-category", context.category),
                                                     context.category.capitalize(), False)
                contexts.children.append(categories[context.category])
            categories[context.category].children.append(code)
        else:
            contexts.children.append(code)
    codes.append(contexts)

    codes.append(Code(guid("code", "group", "parts"), "CMO parts", False,
                      "The part of a configuration an excerpt speaks to (from its evidence links).",
                      children=[Code(guid("code", "part", value), label, True) for value, label in Part.choices]))
    codes.append(Code(guid("code", "group", "speaker-roles"), "Speaker roles", False,
                      "Who is speaking in a participant quote.",
                      children=[Code(*own_code("speaker-role", r, data, lookups), True, r.description)
                                for r in data.speaker_roles]))
    codes.append(Code(guid("code", "group", "excerpt-kinds"), "Excerpt kinds", False,
                      "What kind of evidence an excerpt is.",
                      children=[Code(guid("code", "excerpt-kind", value), label, True)
                                for value, label in ExcerptKind.choices]))
    return codes


def build_sets(data):
    """[(guid, name, description, [configuration code GUID, ...])], non-empty sets only."""
    lookups = _lookups(data)
    members = {}

    def add(key, name, description, configuration):
        entry = members.setdefault(key, (guid("set", *key), name, description, []))
        entry[3].append(configuration_code_guid(configuration.slug))

    ordered_keys = []
    for team in data.teams:
        ordered_keys.append(("team", team.slug))
    for pole in data.poles:
        ordered_keys.append(("wish-pole", pole.slug))
    for domain in data.quality_domains:
        ordered_keys.append(("quality-domain", domain.slug))
    ordered_keys += [("influence", "enabler"), ("influence", "barrier"), ("effect", "triggered"), ("effect", "disabled")]

    for configuration in data.configurations:
        for pk in data.configuration_teams.get(configuration.pk, []):
            team = lookups["team"][pk]
            add(("team", team.slug), f"Team: {team.short_name or team.name}",
                f"Configurations of {team.name}.", configuration)
        seen_poles = set()
        for shift in data.wish_shifts.get(configuration.pk, []):
            pole = lookups["pole"][shift.toward_id]
            if pole.pk in seen_poles:
                continue
            seen_poles.add(pole.pk)
            dimension = lookups["dimension"][pole.dimension_id]
            add(("wish-pole", pole.slug), f"Wish: {dimension.name} toward {pole.name}",
                f"Configurations that shift {dimension.name.lower()} toward {pole.name.lower()}.", configuration)
        for pk in data.configuration_quality_domains.get(configuration.pk, []):
            domain = lookups["quality_domain"][pk]
            add(("quality-domain", domain.slug), f"Quality: {domain.name}",
                f"Configurations that touch {domain.name.lower()}.", configuration)
        influence = configuration.get_influence_display()
        add(("influence", configuration.influence), f"{influence}s",
            "Configurations describing " + ("barriers to change." if configuration.influence == "barrier"
                                            else "enablers of change."), configuration)
        effect = configuration.get_effect_display()
        add(("effect", configuration.effect), f"Mechanism {effect.lower()}",
            f"Configurations in which the mechanism was {effect.lower()}.", configuration)
    return [members[key] for key in ordered_keys if key in members]


def _code_element(parent, ns, code, with_notes):
    element = _sub(parent, _q(ns, "Code"), {
        "guid": code.guid, "name": code.name, "isCodable": "true" if code.codable else "false", "color": code.color,
    })
    if code.description:
        _sub(element, _q(ns, "Description"), text=code.description)
    if with_notes:
        for note in dict.fromkeys(([code.note] if code.note else []) + code.memos):
            _sub(element, _q(ns, "NoteRef"), {"targetGUID": note})
    for child in code.children:
        _code_element(element, ns, child, with_notes)
    return element


def _add_sets(root, ns, data, *, member_attribute):
    """The <Sets> of a codebook or a project, when there are any. The two schemas name a member code's
    reference differently: `guid` in Codebook.xsd, `targetGUID` (CodeRefType) in Project.xsd."""
    sets = build_sets(data)
    if not sets:
        return
    sets_element = _sub(root, _q(ns, "Sets"))
    for set_guid, name, description, members in sets:
        element = _sub(sets_element, _q(ns, "Set"), {"guid": set_guid, "name": name})
        _sub(element, _q(ns, "Description"), text=description)
        for member in members:
            _sub(element, _q(ns, "MemberCode"), {member_attribute: member})


def build_codebook_xml(data):
    """A .qdc document (urn:QDA-XML:codebook:1.0): codes and sets, as UTF-8 bytes."""
    ns = CODEBOOK_NS
    root = ET.Element(_q(ns, "CodeBook"), {"origin": ORIGIN})
    codes = _sub(root, _q(ns, "Codes"))
    for code in build_codes(data):
        _code_element(codes, ns, code, with_notes=False)
    _add_sets(root, ns, data, member_attribute="guid")
    return _serialise(root, ns)
