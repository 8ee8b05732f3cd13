"""REFI-QDA export: the knowledge base as a QDA-XML 1.0 project (.qdpx) or codebook (.qdc).

NVivo, ATLAS.ti, MAXQDA, QualCoder and the other REFI members import these files. The schemas are
vendored in evidence/refi_qda_schemas/ (the tests validate every export against them).

Two steps, so the XML is built by pure functions:
- ``load_export_data(include_drafts)`` reads everything in a fixed number of queries
  (EXPORT_QUERIES, whatever the data size) into an ``ExportData`` snapshot;
- ``build_project_xml`` / ``build_qdpx`` / ``build_codebook_xml`` turn a snapshot into bytes without
  touching the database.

How the knowledge base maps onto QDA-XML
-----------------------------------------
Codebook (the same tree in the project and in the .qdc; group codes are not codable):

    Enabling mechanisms
      <mechanism>                       codable
        <theme>                         codable
          <configuration>               one code per exported CMO configuration with this theme
        <configuration>                 ... with this mechanism and no theme
    Configurations without a mechanism  (only drafts can lack one; only with include_drafts)
    Wish dimensions > <dimension> > <pole>
    Quality domains > <domain>
    Outcome kinds > <kind> > <outcome>
    Contexts > <category> > <context>
    CMO parts > Context / Mechanism / Outcome
    Speaker roles > <role>
    Excerpt kinds > Participant quote / Evaluator finding / Figure / Quotation from the literature

A configuration's code sits under its theme (or mechanism), so a tool's "aggregate child codes"
gives all the evidence for a theme or a mechanism. Its description summarises the configuration
(statement, teams, contexts, activity, effect, outcomes, Wish shifts, quality domains, pathways,
status); draft and in-review ones (evaluator exports with include_drafts only) carry "[draft]" /
"[in review]" in their name. Enablers are coloured green, barriers red.

Project (.qdpx = ZIP of project.qde + sources/<guid>.txt):
- Users: the curators who created or last changed an exported row.
- Sources: one TextSource per source, its text in sources/<guid>.txt (UTF-8, no BOM) referenced
  as internal://<guid>.txt; one PlainTextSelection per evidence excerpt with the excerpt's
  character offsets (0-based code points, end exclusive: QDA-XML's convention and ours). Each
  selection is coded with the codes of the exported configurations it is linked to, the CMO parts
  those links speak to, its speaker role and its excerpt kind.
- Cases: one per team, with a SelectionRef to each of its excerpts.
- Notes: each configuration's statement (NoteRef from its code), and evidence-link notes.
- Links: one per evidence link, from the selection to the configuration's code, named by stance
  and part ("supports (mechanism)"), since a coding cannot say whether evidence supports or
  challenges.
- Sets: the configuration codes per team, per Wish pole they shift toward, per quality domain,
  enablers/barriers and triggered/disabled (QDA-XML sets hold codes, not selections).
- Variables: on sources (kind, date, authors, publisher, programme) and cases (short name,
  organisation, programme). QDA-XML has no variables on selections, hence the excerpt-kind codes.

Every GUID is a uuid5 over the object's natural key (slug, username, choice value), so exporting
unchanged data twice gives byte-identical files, and a re-import matches objects up.
"""

import io
import uuid
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
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


def guid(*key):
    """An 8-4-4-4-12 GUID derived from a natural key, e.g. guid("code", "configuration", slug)."""
    return str(uuid.uuid5(GUID_NAMESPACE, "\x1f".join(str(part) for part in key)))


# --- Reading the database ------------------------------------------------------------------------


@dataclass
class ExportData:
    """Everything an export needs, read up front (see load_export_data)."""

    include_drafts: bool = False
    # Curators' internal notes (cmo_kb/internal_notes.py): configuration notes, excerpt notes.
    internal_notes: bool = False
    mechanisms: list = field(default_factory=list)
    themes: list = field(default_factory=list)
    dimensions: list = field(default_factory=list)
    poles: list = field(default_factory=list)
    quality_domains: list = field(default_factory=list)
    outcome_kinds: list = field(default_factory=list)
    outcomes: list = field(default_factory=list)
    contexts: list = field(default_factory=list)
    teams: list = field(default_factory=list)
    speaker_roles: list = field(default_factory=list)
    configurations: list = field(default_factory=list)
    # configuration id -> [related id, ...] in the related model's order
    configuration_teams: dict = field(default_factory=dict)
    configuration_contexts: dict = field(default_factory=dict)
    configuration_outcomes: dict = field(default_factory=dict)
    configuration_quality_domains: dict = field(default_factory=dict)
    # configuration id -> [WishShift (with between), ...] / [pathway letter, ...] in order
    wish_shifts: dict = field(default_factory=dict)
    pathways: dict = field(default_factory=dict)
    sources: list = field(default_factory=list)
    excerpts: list = field(default_factory=list)
    links: list = field(default_factory=list)
    users: list = field(default_factory=list)


# The queries load_export_data makes, whatever the data size (pinned by tests/exports/).
EXPORT_QUERIES = [
    "enabling mechanisms",
    "mechanism themes",
    "Wish dimensions",
    "Wish poles",
    "quality domains",
    "outcome kinds",
    "outcomes",
    "contexts",
    "teams (with programme)",
    "speaker roles",
    "configurations",
    "configuration teams",
    "configuration contexts",
    "configuration outcomes",
    "configuration quality domains",
    "Wish shifts (with relationship pair)",
    "configuration pathways (with pathway)",
    "sources (with kind and programme)",
    "evidence excerpts (with wave)",
    "evidence links to exported configurations",
    "users who created or changed an exported row",
]
CODEBOOK_QUERIES = EXPORT_QUERIES[: EXPORT_QUERIES.index("sources (with kind and programme)")]


def _grouped(rows):
    grouped = {}
    for key, value in rows:
        grouped.setdefault(key, []).append(value)
    return grouped


def load_export_data(include_drafts=False, evidence=True, internal_notes=False):
    """Read what an export shows. Costs len(EXPORT_QUERIES) queries, whatever the data size; without
    evidence (a codebook needs no sources, excerpts, links or users) len(CODEBOOK_QUERIES).

    Published configurations only, unless include_drafts; curators' internal notes only with
    internal_notes (the caller decides who may ask for either: evaluators).
    Vocabularies, sources, excerpts and teams are public and exported whole.
    """
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    from evidence.models import EvidenceExcerpt, EvidenceLink, Source, SpeakerRole
    from mechanisms.models import (
        CMOConfiguration,
        ConfigurationPathway,
        Context,
        EnablingMechanism,
        MechanismTheme,
        Outcome,
        OutcomeKind,
        WishDimension,
        WishPole,
        WishShift,
    )
    from projects.models import QualityDomain, Team

    configurations = CMOConfiguration.objects.all() if include_drafts else CMOConfiguration.objects.published()
    configurations = configurations.defer("search_text", "search_vector").order_by("slug")
    # Subqueries, not id lists: an empty id list would skip its query and change the count.
    exported = configurations.values("pk")

    def through(relation, target):
        return list(
            relation.through.objects.filter(cmoconfiguration_id__in=exported)
            .order_by(f"{target}__order", f"{target}__name", f"{target}_id")
            .values_list("cmoconfiguration_id", f"{target}_id")
        )

    data = ExportData(include_drafts=include_drafts, internal_notes=internal_notes)
    data.mechanisms = list(EnablingMechanism.objects.order_by("order", "name", "slug"))
    data.themes = list(MechanismTheme.objects.order_by("mechanism__order", "order", "name", "slug"))
    data.dimensions = list(WishDimension.objects.order_by("order", "name", "slug"))
    data.poles = list(WishPole.objects.order_by("dimension__order", "position", "slug"))
    data.quality_domains = list(QualityDomain.objects.order_by("order", "name", "slug"))
    data.outcome_kinds = list(OutcomeKind.objects.order_by("order", "name", "slug"))
    data.outcomes = list(Outcome.objects.order_by("order", "name", "slug"))
    data.contexts = list(Context.objects.order_by("category", "order", "name", "slug"))
    data.teams = list(Team.objects.select_related("programme").order_by("order", "name", "slug"))
    data.speaker_roles = list(SpeakerRole.objects.order_by("order", "name", "slug"))
    data.configurations = list(configurations)
    data.configuration_teams = _grouped(through(CMOConfiguration.teams, "team"))
    data.configuration_contexts = _grouped(through(CMOConfiguration.contexts, "context"))
    data.configuration_outcomes = _grouped(through(CMOConfiguration.outcomes, "outcome"))
    data.configuration_quality_domains = _grouped(through(CMOConfiguration.quality_domains, "qualitydomain"))
    data.wish_shifts = _grouped(
        (shift.configuration_id, shift)
        for shift in WishShift.objects.filter(configuration_id__in=exported)
        .select_related("between")
        .order_by("configuration_id", "dimension__order", "between__order", "pk")
    )
    data.pathways = _grouped(
        ConfigurationPathway.objects.filter(configuration_id__in=exported)
        .order_by("configuration_id", "order", "pathway__letter")
        .values_list("configuration_id", "pathway__letter")
    )
    if not evidence:
        return data
    data.sources = list(Source.objects.select_related("kind", "programme").order_by("title", "slug"))
    data.excerpts = list(
        EvidenceExcerpt.objects.defer("search_vector").select_related("wave").order_by("source_id", "start", "end")
    )
    links = EvidenceLink.objects.filter(configuration_id__in=exported)
    data.links = list(links.order_by("excerpt_id", "configuration_id", "part"))
    curated = [
        configurations,
        links,
        EvidenceExcerpt.objects.all(),
        Source.objects.all(),
        Team.objects.all(),
    ]
    who = Q()
    for qs in curated:
        who |= Q(pk__in=qs.filter(created_by__isnull=False).values("created_by"))
        who |= Q(pk__in=qs.filter(updated_by__isnull=False).values("updated_by"))
    data.users = list(get_user_model().objects.filter(who).order_by("username"))
    return data


# --- Small helpers -------------------------------------------------------------------------------


def _xml_text(value):
    """XML 1.0 cannot carry most control characters (PDF extraction leaves some): drop them."""
    text = "" if value is None else str(value)
    return "".join(
        ch
        for ch in text
        if ch in "\t\n\r"
        or "\x20" <= ch <= "\ud7ff"
        or "\ue000" <= ch <= "\ufffd"
        or "\U00010000" <= ch <= "\U0010ffff"
    )


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


def _choices():
    from evidence.models import ExcerptKind, Part

    return ExcerptKind, Part


def configuration_code_guid(slug):
    return guid("code", "configuration", slug)


def statement_note_guid(slug):
    return guid("note", "configuration-statement", slug)


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
        "excerpt": by_pk(data.excerpts),
        "user": by_pk(data.users),
    }


def build_codes(data, with_notes=False):
    """The code tree (list of top-level Code), the same for projects and codebooks."""
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
        code = Code(guid("code", "mechanism", mechanism.slug), mechanism.name, True, mechanism.description)
        for theme in data.themes:
            if theme.mechanism_id == mechanism.pk:
                theme_code = Code(guid("code", "theme", theme.slug), theme.name, True, theme.description)
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
        code.children = [Code(guid("code", "outcome", o.slug), o.name, True, o.description)
                         for o in data.outcomes if o.kind_id == kind.pk]
        kinds.children.append(code)
    codes.append(kinds)

    contexts = Code(guid("code", "group", "contexts"), "Contexts", False,
                    "Circumstances that decide whether a mechanism fires, by category.")
    categories = {}
    for context in data.contexts:
        code = Code(guid("code", "context", context.slug), context.name, True, context.description)
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
                      children=[Code(guid("code", "speaker-role", r.slug), r.name, True, r.description)
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
    if with_notes and code.note:
        _sub(element, _q(ns, "NoteRef"), {"targetGUID": code.note})
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


def source_file_name(slug):
    return f"{source_guid(slug)}.txt"


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
