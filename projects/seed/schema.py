"""What each fixture section holds: its fields, its model, and the order sections are applied in."""

from dataclasses import dataclass, field

from evidence.models import (
    EvaluationWave,
    EvidenceExcerpt,
    ExcerptKind,
    MeasurementInstrument,
    Part,
    Source,
    SourceKind,
    SpeakerRole,
    Stance,
)
from mechanisms.models import (
    CMOConfiguration,
    Confidence,
    ConfigurationChain,
    Context,
    Effect,
    EnablingMechanism,
    EssentialBuildingBlock,
    Framework,
    FrameworkConcept,
    Influence,
    MechanismTheme,
    Outcome,
    OutcomeKind,
    Pathway,
    RelationshipPair,
    WishDimension,
    WishPole,
)
from mechanisms.theories import ProgrammeTheory, Verdict
from cmo_kb.vocabulary import ReviewStatus
from projects.models import (
    Basis,
    KeyFigure,
    Programme,
    QualityDomain,
    RelationshipLevel,
    Team,
)

CHANGE_REASON = "load_ctg"


class SeedError(Exception):
    """One or more problems in the fixtures; each line names file, section, slug and field."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))



@dataclass
class F:
    """A field of a fixture entry.

    kind: str | int | bool | date | decimal | strlist | ref | refs (a set) | orefs (ordered) | choice |
    records (a list of mappings with their own fields, `sub`).
    """

    name: str
    kind: str = "str"
    required: bool = False
    target: str = None  # section a ref points into
    choices: tuple = ()
    sub: list = field(default_factory=list)
    key: tuple = ()  # records: the sub-fields that identify a record (sorted by them)
    default: object = None


def _choices(text_choices):
    return tuple(value for value, _ in text_choices.choices)


def _vocab(*extra):
    return [F("slug", required=True), F("name", required=True), F("description"), F("order", "int", default=0), *extra]


@dataclass
class Section:
    name: str  # as written in the fixtures (vocabulary sub-sections drop the "vocabularies." prefix)
    model: type
    fields: list
    parent: tuple = ()  # (parent section, parent field, child list key) for nested entries
    label: str = ""  # SeedRecord / report label when not the model's own
    key: tuple = ()  # for entries without a slug: the fields whose values, joined, are the natural key

    @property
    def record_label(self):
        return self.label or self.model._meta.label


# Top-level sections and, under `vocabularies`, the vocabulary sections.
VOCABULARY_SECTIONS = (
    "quality_domains",
    "relationship_levels",
    "relationship_pairs",
    "outcome_kinds",
    "building_blocks",
    "speaker_roles",
    "mechanisms",
    "wish_dimensions",
    "frameworks",
    "waves",
    "instruments",
)
TOP_LEVEL_SECTIONS = (
    "source_kinds",
    "programmes",
    "sources",
    "vocabularies",
    "teams",
    "pathways",
    "excerpts",
    "contexts",
    "outcomes",
    "configurations",
    "chains",
    "theories",
)

SECTIONS = [
    Section("source_kinds", SourceKind, _vocab()),
    # Shared frameworks first: a programme says which it uses.
    Section("frameworks", Framework, _vocab(F("concepts", "nested"))),
    Section("concepts", FrameworkConcept, _vocab(F("note")), parent=("frameworks", "framework", "concepts")),
    Section(
        "programmes",
        Programme,
        [
            F("slug", required=True),
            F("name", required=True),
            F("short_name"),
            F("funder"),
            F("evaluator"),
            F("start_year", "int"),
            F("end_year", "int"),
            F("summary"),
            F("headline_messages", "strlist"),
            F("is_public", "bool", default=False),
            F("frameworks", "refs", target="frameworks"),
        ],
    ),
    Section(
        "sources",
        Source,
        [
            F("slug", required=True),
            F("kind", "ref", required=True, target="source_kinds"),
            F("programme", "ref", target="programmes"),
            F("title", required=True),
            F("authors"),
            F("date", "date"),
            F("publisher"),
            F("url"),
            F("text_file", required=True),
        ],
    ),
    Section("quality_domains", QualityDomain, _vocab()),
    Section("relationship_levels", RelationshipLevel, _vocab()),
    Section("relationship_pairs", RelationshipPair, _vocab()),
    Section("outcome_kinds", OutcomeKind, _vocab()),
    Section("building_blocks", EssentialBuildingBlock, _vocab()),
    Section("speaker_roles", SpeakerRole, _vocab()),
    Section("mechanisms", EnablingMechanism, _vocab(F("short_name"), F("examples"), F("themes", "nested"))),
    Section("themes", MechanismTheme, _vocab(), parent=("mechanisms", "mechanism", "themes")),
    Section("wish_dimensions", WishDimension, _vocab(F("poles", "nested"))),
    Section(
        "poles",
        WishPole,
        [F("slug", required=True), F("name", required=True), F("description"),
         F("position", "choice", required=True, choices=(-1, 1))],
        parent=("wish_dimensions", "dimension", "poles"),
    ),
    Section(
        "waves",
        EvaluationWave,
        [F("slug", required=True), F("number", "int", required=True), F("name", required=True), F("period"),
         F("description")],
    ),
    Section(
        "instruments",
        MeasurementInstrument,
        [F("slug", required=True), F("abbreviation"), F("name", required=True), F("description")],
    ),
    Section(
        "teams",
        Team,
        [
            F("slug", required=True),
            F("programme", "ref", required=True, target="programmes"),
            F("name", required=True),
            F("short_name", required=True),
            F("aliases", "strlist"),
            F("organisation"),
            F("objective"),
            F("target"),
            F("scope"),
            F("delivery"),
            F("background"),
            F("aims"),
            F("achievements"),
            F("order", "int", default=0),
            F("quality_domains", "nested"),
            F("relationship_levels", "nested"),
            F("key_figures", "nested"),
        ],
    ),
    Section(
        "pathways",
        Pathway,
        [
            F("slug", required=True),
            F("letter", required=True),
            F("name", required=True),
            F("description"),
            F("example_team", "ref", target="teams"),
            F("example"),
        ],
    ),
    Section(
        "excerpts",
        EvidenceExcerpt,
        [
            F("slug", required=True),
            F("source", "ref", required=True, target="sources"),
            F("start", "int", required=True),
            F("text", required=True),
            F("end", "int"),
            F("section"),
            F("team", "ref", target="teams"),
            F("speaker_role", "ref", target="speaker_roles"),
            F("attribution"),
            F("kind", "choice", required=True, choices=_choices(ExcerptKind)),
            F("wave", "ref", target="waves"),
            F("note"),
        ],
    ),
    # A team's quality domains and relationship levels cite excerpts, so they are applied after them.
    Section(
        "team_links",
        Team,
        [
            F("slug", required=True),
            F(
                "quality_domains",
                "records",
                key=("domain",),
                sub=[
                    F("domain", "ref", required=True, target="quality_domains"),
                    F("basis", "choice", required=True, choices=_choices(Basis)),
                    F("note"),
                    F("evidence", "ref", target="excerpts"),
                ],
            ),
            F(
                "relationship_levels",
                "records",
                key=("level",),
                sub=[
                    F("level", "ref", required=True, target="relationship_levels"),
                    F("basis", "choice", required=True, choices=_choices(Basis)),
                    F("note"),
                    F("evidence", "ref", target="excerpts"),
                ],
            ),
        ],
        label="projects.Team#links",
    ),
    Section(
        "key_figures",
        KeyFigure,
        [
            F("slug", required=True),
            F("label", required=True),
            F("value", "decimal"),
            F("value_max", "decimal"),
            F("unit"),
            F("display", required=True),
            F("evidence", "ref", required=True, target="excerpts"),
            F("order", "int", default=0),
        ],
        parent=("teams", "team", "key_figures"),
    ),
    Section("contexts", Context, _vocab(F("category"))),
    Section(
        "outcomes",
        Outcome,
        _vocab(F("kind", "ref", required=True, target="outcome_kinds"),
               F("quality_domains", "refs", target="quality_domains")),
    ),
    Section(
        "configurations",
        CMOConfiguration,
        [
            F("slug", required=True),
            F("title", required=True),
            F("teams", "refs", target="teams"),
            F("contexts", "refs", target="contexts"),
            F("activity"),
            F("resource"),
            F("reasoning"),
            F("mechanism", "ref", target="mechanisms"),
            F("theme", "ref", target="themes"),
            F("effect", "choice", required=True, choices=_choices(Effect)),
            F("outcomes", "refs", target="outcomes"),
            F("pathways", "orefs", target="pathways"),
            F("relationship_level", "ref", target="relationship_levels"),
            F("quality_domains", "refs", target="quality_domains"),
            F("influence", "choice", required=True, choices=_choices(Influence)),
            F("statement", required=True),
            F("confidence", "choice", required=True, choices=_choices(Confidence)),
            F("status", "choice", default=ReviewStatus.PUBLISHED.value, choices=_choices(ReviewStatus)),
            F("notes"),
            F(
                "wish_shifts",
                "records",
                key=("dimension", "between"),
                sub=[
                    F("dimension", "ref", required=True, target="wish_dimensions"),
                    F("toward", "ref", required=True, target="poles"),
                    F("between", "ref", required=True, target="relationship_pairs"),
                    F("note"),
                ],
            ),
            F(
                "evidence",
                "records",
                key=("excerpt", "part"),
                sub=[
                    F("excerpt", "ref", required=True, target="excerpts"),
                    F("stance", "choice", required=True, choices=_choices(Stance)),
                    F("part", "choice", required=True, choices=_choices(Part)),
                    F("note"),
                ],
            ),
        ],
    ),
    # A chain link has no slug of its own: it is keyed by its pair, "<from> → <to>" (CHAIN_ARROW).
    Section(
        "chains",
        ConfigurationChain,
        [
            F("from", "ref", required=True, target="configurations"),
            F("to", "ref", required=True, target="configurations"),
            F("note"),
            F("evidence", "refs", target="excerpts"),
        ],
        key=("from", "to"),
    ),
]
# Programme theories (mechanisms/theories.py): a theory with its versions, each with its verdict on
# configurations, as one value (versions and entries are synced with their theory).
SECTIONS.append(Section(
    "theories",
    ProgrammeTheory,
    [
        F("slug", required=True),
        F("programme", "ref", required=True, target="programmes"),
        F("name", required=True),
        F("description"),
        F(
            "versions",
            "records",
            key=("number",),
            sub=[
                F("number", "int", required=True),
                F("label", required=True),
                F("date", "date"),
                F("prompted_by_wave", "ref", target="waves"),
                F("prompted_by_source", "ref", target="sources"),
                F("summary"),
                F("status", "choice", default=ReviewStatus.PUBLISHED.value, choices=_choices(ReviewStatus)),
                F(
                    "entries",
                    "records",
                    key=("configuration",),
                    sub=[
                        F("configuration", "ref", required=True, target="configurations"),
                        F("verdict", "choice", required=True, choices=_choices(Verdict)),
                        F("replaced_by", "ref", target="configurations"),
                        F("note"),
                        F("evidence", "refs", target="excerpts"),
                    ],
                ),
            ],
        ),
    ],
))
SECTION_BY_NAME = {s.name: s for s in SECTIONS}
CHAIN_ARROW = " → "  # as ConfigurationChain.__str__ writes a link
# Sections whose nested lists are split out into sections of their own.
NESTED_CHILDREN = {
    "mechanisms": ["themes"],
    "wish_dimensions": ["poles"],
    "frameworks": ["concepts"],
    "teams": ["key_figures"],
}
