"""Load the Closing the Gap knowledge base from the curator-readable YAML under fixtures/ctg/.

A workflow that writes many models at once (hence a module of its own, behind the thin
`load_ctg` command). It runs in three steps:

1. read every fixtures/ctg/**/*.yaml file and gather its entries by section;
2. validate everything before writing anything: unknown sections and keys, missing required
   fields, bad choices, duplicate slugs across files, references to slugs no fixture defines,
   excerpts whose text is not exactly the source text between their offsets;
3. apply the entries in dependency order inside one transaction, comparing each with the
   database and with what the loader last applied (projects.SeedRecord):
   - absent from the database: create it;
   - equal to the fixture: unchanged;
   - the database still holds what the loader last applied, the fixture changed: update it;
   - otherwise a curator changed it: report a conflict (model, slug, fields) and leave it,
     unless `overwrite` is set.

Every write goes through the models (so EvidenceExcerpt.save() re-checks the verbatim rule and
other apps' signals fire) and is recorded by django-simple-history with the change reason
"load_ctg". The loader never deletes a row that a fixture no longer mentions; nested lists
(a team's quality domains, a configuration's evidence links...) are part of their parent's
value and are synced with it.
"""

import datetime
import decimal
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from django.db import models, transaction
from django.db.models.signals import post_save
from simple_history.models import HistoricalRecords

from evidence.models import (
    EvaluationWave,
    EvidenceExcerpt,
    EvidenceLink,
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
    ConfigurationPathway,
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
    WishShift,
)
from cmo_kb.vocabulary import ReviewStatus
from projects.models import (
    Basis,
    KeyFigure,
    Programme,
    QualityDomain,
    RelationshipLevel,
    SeedRecord,
    Team,
    TeamQualityDomain,
    TeamRelationshipLevel,
)

CHANGE_REASON = "load_ctg"

try:  # libyaml's loader is several times faster on the full corpus
    _YamlLoader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _YamlLoader = yaml.SafeLoader


class SeedError(Exception):
    """One or more problems in the fixtures; each line names file, section, slug and field."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


# --------------------------------------------------------------------------------------------
# Schema: what each section's entries hold.
# --------------------------------------------------------------------------------------------


@dataclass
class F:
    """A field of a fixture entry.

    kind: str | int | date | decimal | strlist | ref | refs (a set) | orefs (ordered) | choice |
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
)

SECTIONS = [
    Section("source_kinds", SourceKind, _vocab()),
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
    Section("frameworks", Framework, _vocab(F("concepts", "nested"))),
    Section("concepts", FrameworkConcept, _vocab(F("note")), parent=("frameworks", "framework", "concepts")),
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
]
SECTION_BY_NAME = {s.name: s for s in SECTIONS}
# Sections whose nested lists are split out into sections of their own.
NESTED_CHILDREN = {
    "mechanisms": ["themes"],
    "wish_dimensions": ["poles"],
    "frameworks": ["concepts"],
    "teams": ["key_figures"],
}


@dataclass
class Entry:
    section: Section
    file: str
    raw: dict
    slug: str = ""
    value: dict = None  # normalised: what is compared with the database and stored in SeedRecord

    def where(self, field_name=None, detail=None):
        section = "teams" if self.section.name == "team_links" else self.section.name
        parts = [self.file, section, self.slug or "(no slug)"]
        if field_name:
            parts.append(field_name)
        return " › ".join(parts) + (f": {detail}" if detail else "")


# --------------------------------------------------------------------------------------------
# Step 1 and 2: read and validate.
# --------------------------------------------------------------------------------------------


def _canon(value):
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def fingerprint(value):
    return hashlib.sha256(_canon(value).encode("utf-8")).hexdigest()


def _decimal_text(value):
    return str(decimal.Decimal(str(value)).quantize(decimal.Decimal("0.01")))


class Fixtures:
    """All entries of all fixture files, validated and normalised."""

    def __init__(self, root):
        self.root = Path(root)
        self.ctg_dir = self.root / "ctg"
        self.problems = []
        self.entries = defaultdict(dict)  # section name -> slug -> Entry
        self.source_texts = {}  # source slug -> full text
        self.unreadable = False  # a file could not be read: its slugs are missing, so references would mislead
        self._read()
        if not self.unreadable:
            self._normalise()
            self._cross_check()
        if self.problems:
            raise SeedError(self.problems)

    def _rel(self, path):
        try:
            return str(path.relative_to(self.root.parent))
        except ValueError:
            return str(path)

    def _read(self):
        if not self.ctg_dir.is_dir():
            self.problems.append(f"{self.ctg_dir}: no fixtures directory (settings.CTG_FIXTURES_DIR / 'ctg').")
            self.unreadable = True
            return
        files = sorted(self.ctg_dir.rglob("*.yaml"))
        if not files:
            self.problems.append(f"{self._rel(self.ctg_dir)}: no *.yaml fixture files.")
        for path in files:
            name = self._rel(path)
            try:
                data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YamlLoader)
            except (yaml.YAMLError, UnicodeDecodeError) as exc:
                self.problems.append(f"{name}: not valid UTF-8 YAML: {exc}")
                self.unreadable = True
                continue
            if data is None:
                continue
            if not isinstance(data, dict):
                self.problems.append(f"{name}: the top level must be a mapping of sections.")
                self.unreadable = True
                continue
            for section_name, items in data.items():
                if section_name == "vocabularies":
                    if not isinstance(items, dict):
                        self.problems.append(f"{name} › vocabularies: must be a mapping of vocabulary sections.")
                        continue
                    for vocab_name, vocab_items in items.items():
                        if vocab_name not in VOCABULARY_SECTIONS:
                            self.problems.append(
                                f"{name} › vocabularies › {vocab_name}: unknown vocabulary section; "
                                f"expected one of {', '.join(VOCABULARY_SECTIONS)}."
                            )
                            continue
                        self._add_items(name, SECTION_BY_NAME[vocab_name], vocab_items)
                elif section_name in TOP_LEVEL_SECTIONS:
                    self._add_items(name, SECTION_BY_NAME[section_name], items)
                else:
                    self.problems.append(
                        f"{name} › {section_name}: unknown section; expected one of {', '.join(TOP_LEVEL_SECTIONS)}."
                    )

    def _add_items(self, file, section, items, parent_slug=None):
        if items is None:
            return
        if not isinstance(items, list):
            self.problems.append(f"{file} › {section.name}: must be a list of entries.")
            return
        for index, raw in enumerate(items):
            if not isinstance(raw, dict):
                self.problems.append(f"{file} › {section.name} › entry {index + 1}: must be a mapping.")
                continue
            entry = Entry(section, file, raw)
            slug = raw.get("slug")
            if not isinstance(slug, str) or not slug:
                self.problems.append(entry.where("slug", f"entry {index + 1} has no slug."))
                continue
            entry.slug = slug
            if parent_slug is not None:
                entry.raw = {**raw, section.parent[1]: parent_slug}
            known = {f.name for f in section.fields} | ({section.parent[1]} if section.parent else set())
            for key in raw:
                if key not in known:
                    self.problems.append(entry.where(key, f"unknown key; {section.name} entries take {', '.join(sorted(known))}."))
            existing = self.entries[section.name].get(slug)
            if existing is not None:
                self.problems.append(
                    entry.where(None, f"duplicate slug '{slug}': also defined in {existing.file}.")
                )
                continue
            self.entries[section.name][slug] = entry
            for child_name in NESTED_CHILDREN.get(section.name, ()):
                child = SECTION_BY_NAME[child_name]
                self._add_items(file, child, raw.get(child.parent[2]), parent_slug=slug)
            if section.name == "teams":
                links = Entry(SECTION_BY_NAME["team_links"], file, {
                    "slug": slug,
                    "quality_domains": raw.get("quality_domains") or [],
                    "relationship_levels": raw.get("relationship_levels") or [],
                }, slug=slug)
                self.entries["team_links"][slug] = links

    # -- normalising ----------------------------------------------------------------------------

    def _normalise(self):
        for section in SECTIONS:
            for entry in self.entries[section.name].values():
                entry.value = self._normalise_fields(entry, section.fields, entry.raw, prefix="")
                if section.parent:
                    entry.value[section.parent[1]] = entry.raw[section.parent[1]]
                if section.name == "sources":
                    self._read_source_text(entry)
                if section.name == "excerpts":
                    self._check_excerpt(entry)

    def _normalise_fields(self, entry, fields, raw, prefix):
        value = {}
        for f in fields:
            if f.kind == "nested" or f.name == "slug":
                continue
            where = prefix + f.name
            present = f.name in raw and raw[f.name] is not None
            if f.required and not present:
                self.problems.append(entry.where(where, "required."))
                continue
            value[f.name] = self._normalise_value(entry, f, raw.get(f.name), where) if present else self._empty(f)
        return value

    @staticmethod
    def _empty(f):
        if f.default is not None:
            return f.default
        if f.kind in ("str",):
            return ""
        if f.kind in ("strlist", "refs", "orefs", "records"):
            return []
        return None

    def _normalise_value(self, entry, f, raw, where):
        problem = lambda detail: self.problems.append(entry.where(where, detail))  # noqa: E731
        kind = f.kind
        if kind == "str" or kind == "ref":
            if isinstance(raw, (int, float)) and not isinstance(raw, bool) and kind == "str":
                raw = str(raw)
            if not isinstance(raw, str):
                problem(f"must be text, not {type(raw).__name__}.")
                return None
            return raw
        if kind == "int":
            if isinstance(raw, bool) or not isinstance(raw, int):
                problem(f"must be a whole number, not {raw!r}.")
                return None
            if raw < 0:
                problem(f"must not be negative ({raw}).")
                return None
            return raw
        if kind == "date":
            if isinstance(raw, datetime.date):
                return raw.isoformat()
            try:
                return datetime.date.fromisoformat(str(raw)).isoformat()
            except ValueError:
                problem(f"must be a date YYYY-MM-DD, not {raw!r}.")
                return None
        if kind == "decimal":
            try:
                return _decimal_text(raw)
            except (decimal.InvalidOperation, ValueError):
                problem(f"must be a number, not {raw!r}.")
                return None
        if kind == "choice":
            if raw not in f.choices:
                problem(f"{raw!r} is not a valid choice; expected one of {', '.join(map(str, f.choices))}.")
                return None
            return raw
        if kind in ("strlist", "refs", "orefs"):
            if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
                problem("must be a list of text items." if kind == "strlist" else "must be a list of slugs.")
                return []
            if kind != "strlist" and len(set(raw)) != len(raw):
                problem("lists the same slug twice.")
            return sorted(set(raw)) if kind == "refs" else list(raw)
        if kind == "records":
            if not isinstance(raw, list):
                problem("must be a list of mappings.")
                return []
            records = []
            known = {s.name for s in f.sub}
            for index, item in enumerate(raw):
                item_where = f"{where}[{index + 1}]"
                if not isinstance(item, dict):
                    self.problems.append(entry.where(item_where, "must be a mapping."))
                    continue
                for key in item:
                    if key not in known:
                        self.problems.append(entry.where(f"{item_where}.{key}", f"unknown key; takes {', '.join(sorted(known))}."))
                records.append(self._normalise_fields(entry, f.sub, item, prefix=f"{item_where}."))
            keys = [tuple(r.get(k) for k in f.key) for r in records]
            if len(set(keys)) != len(keys):
                problem(f"two entries share the same {' + '.join(f.key)}.")
            return sorted(records, key=lambda r: tuple(str(r.get(k)) for k in f.key))
        raise AssertionError(kind)

    def _read_source_text(self, entry):
        path = self.root / (entry.value.get("text_file") or "")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.problems.append(entry.where("text_file", f"cannot read {path} as UTF-8: {exc}"))
            return
        self.source_texts[entry.slug] = text
        entry.value["full_text_sha256"] = hashlib.sha256(text.encode("utf-8")).hexdigest()

    def _check_excerpt(self, entry):
        value = entry.value
        text, start, end = value.get("text"), value.get("start"), value.get("end")
        full = self.source_texts.get(value.get("source"))
        if text is None or start is None or full is None:
            return  # already reported (or an unknown source, reported by the cross-check)
        if not text:
            self.problems.append(entry.where("text", "must not be empty."))
            return
        expected_end = start + len(text)
        if end is not None and end != expected_end:
            self.problems.append(entry.where("end", f"{end} is not start + len(text) = {expected_end}."))
        value["end"] = expected_end
        if expected_end > len(full):
            self.problems.append(entry.where("start", f"the span {start}–{expected_end} runs past the end of the source ({len(full)} characters)."))
            return
        actual = full[start:expected_end]
        if actual != text:
            found = full.find(text)
            hint = f" The text occurs at offset {found}." if found >= 0 else " The text does not occur in the source."
            self.problems.append(
                entry.where("text", f"does not equal the source between {start} and {expected_end}: the source has {actual[:70]!r}.{hint}")
            )

    # -- cross-references ----------------------------------------------------------------------

    def _cross_check(self):
        for section in SECTIONS:
            for entry in self.entries[section.name].values():
                self._check_refs(entry, section.fields, entry.value, prefix="")
        themes = self.entries["themes"]
        poles = self.entries["poles"]
        for entry in self.entries["configurations"].values():
            theme, mechanism = entry.value.get("theme"), entry.value.get("mechanism")
            if theme in themes and mechanism and themes[theme].value["mechanism"] != mechanism:
                self.problems.append(entry.where("theme", f"'{theme}' is a theme of '{themes[theme].value['mechanism']}', not of '{mechanism}'."))
            for index, shift in enumerate(entry.value.get("wish_shifts") or []):
                toward = shift.get("toward")
                if toward in poles and poles[toward].value["dimension"] != shift.get("dimension"):
                    self.problems.append(entry.where(
                        f"wish_shifts[{index + 1}].toward",
                        f"'{toward}' is a pole of '{poles[toward].value['dimension']}', not of '{shift.get('dimension')}'."))
        spans = {}
        for entry in self.entries["excerpts"].values():
            span = (entry.value.get("source"), entry.value.get("start"), entry.value.get("end"))
            other = spans.get(span)
            if other is not None:
                self.problems.append(entry.where(
                    "start", f"the same span ({span[1]}–{span[2]}) as excerpt '{other.slug}' in {other.file}; "
                    f"cite '{other.slug}' instead."))
            else:
                spans[span] = entry
        numbers = defaultdict(list)
        for entry in self.entries["waves"].values():
            numbers[entry.value.get("number")].append(entry.slug)
        for number, slugs in numbers.items():
            if len(slugs) > 1:
                self.problems.append(f"waves: {', '.join(slugs)} share number {number}.")

    def _check_refs(self, entry, fields, value, prefix):
        for f in fields:
            where = prefix + f.name
            if f.kind == "ref" and value.get(f.name):
                self._check_ref(entry, f, value[f.name], where)
            elif f.kind in ("refs", "orefs"):
                for slug in value.get(f.name) or []:
                    self._check_ref(entry, f, slug, where)
            elif f.kind == "records":
                for index, record in enumerate(value.get(f.name) or []):
                    self._check_refs(entry, f.sub, record, prefix=f"{where}[{index + 1}].")

    def _check_ref(self, entry, f, slug, where):
        if slug not in self.entries[f.target]:
            self.problems.append(entry.where(where, f"unknown {f.target} slug '{slug}'."))


# --------------------------------------------------------------------------------------------
# Step 3: apply.
# --------------------------------------------------------------------------------------------


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    conflicts: int = 0


@dataclass
class Conflict:
    label: str
    slug: str
    fields: list
    overwritten: bool


@dataclass
class Result:
    counts: dict  # record label -> Counts
    conflicts: list
    dry_run: bool

    @property
    def totals(self):
        total = Counts()
        for c in self.counts.values():
            total.created += c.created
            total.updated += c.updated
            total.unchanged += c.unchanged
            total.conflicts += c.conflicts
        return total


_RECORDERS = {}


def _history_recorder(model):
    """The HistoricalRecords object registered for `model` (django-simple-history keeps it only as
    the bound method it connects to post_save), so one history row can be written after a save and
    its m2m changes instead of one per m2m action."""
    if model not in _RECORDERS:
        _RECORDERS[model] = None
        for receiver in post_save._live_receivers(model)[0]:
            owner = getattr(receiver, "__self__", None)
            if isinstance(owner, HistoricalRecords):
                _RECORDERS[model] = owner
    return _RECORDERS[model]


class Loader:
    def __init__(self, fixtures, overwrite=False):
        self.fx = fixtures
        self.overwrite = overwrite
        self.counts = {}
        self.conflicts = []
        self.ids = {}  # section name -> slug -> pk
        self.records = {}  # (label, key) -> SeedRecord

    # -- helpers ---------------------------------------------------------------------------------

    def _ids(self, section_name):
        if section_name not in self.ids:
            model = SECTION_BY_NAME[section_name].model
            self.ids[section_name] = dict(model.objects.values_list("slug", "pk"))
        return self.ids[section_name]

    def _id(self, section_name, slug):
        return None if slug is None else self._ids(section_name)[slug]

    @staticmethod
    def _mark(instance):
        instance._change_reason = CHANGE_REASON
        return instance

    def run(self):
        self.records = {(r.model, r.key): r for r in SeedRecord.objects.all()}
        for section in SECTIONS:
            entries = self.fx.entries[section.name]
            if not entries:
                continue
            self.counts.setdefault(section.record_label, Counts())
            current = self.current_values(section)
            for slug, entry in entries.items():
                self.reconcile(section, entry, current.get(slug))

    def reconcile(self, section, entry, current):
        label, counts = section.record_label, self.counts[section.record_label]
        want = entry.value
        record = self.records.get((label, entry.slug))
        if current is None and record is not None and section.name == "team_links":
            current = {"quality_domains": [], "relationship_levels": []}  # a curator removed them all
        if current is None:
            if record is not None and not self.overwrite:
                # The loader created it once and someone deleted it since: a curator's decision.
                self._conflict(counts, label, entry.slug, ["(deleted)"], overwritten=False)
                return
            self.write(section, entry, None)
            counts.created += 1
        elif current == want:
            counts.unchanged += 1
        else:
            base = record.values if record is not None else None
            if base is not None and current == base:
                self.write(section, entry, current)
                counts.updated += 1
            else:
                reference = base if base is not None else want
                differing = sorted(k for k in set(current) | set(reference) if current.get(k) != reference.get(k))
                self._conflict(counts, label, entry.slug, differing or ["(values)"], overwritten=self.overwrite)
                if not self.overwrite:
                    return
                self.write(section, entry, current)
        self._remember(label, entry.slug, want, record)

    def _conflict(self, counts, label, slug, fields, overwritten):
        counts.conflicts += 1
        if overwritten:
            counts.updated += 1
        self.conflicts.append(Conflict(label, slug, fields, overwritten))

    def _remember(self, label, key, value, record):
        fp = fingerprint(value)
        if record is None:
            self.records[(label, key)] = SeedRecord.objects.create(model=label, key=key, values=value, fingerprint=fp)
        elif record.fingerprint != fp or record.values != value:
            record.values, record.fingerprint = value, fp
            record.save(update_fields=["values", "fingerprint", "applied_at"])

    # -- reading the database ----------------------------------------------------------------------

    def current_values(self, section):
        """slug -> normalised value for every row of the section's model (a few queries per section)."""
        name = section.name
        if name == "team_links":
            return self._current_team_links()
        if name == "configurations":
            return self._current_configurations()
        model = section.model
        paths = {}
        for f in section.fields:
            if f.kind in ("nested", "records", "refs", "orefs") or f.name == "slug":
                continue
            if name == "sources" and f.name == "text_file":
                continue
            paths[f.name] = f"{f.name}__slug" if f.kind == "ref" else f.name
        if section.parent:
            paths[section.parent[1]] = f"{section.parent[1]}__slug"
        columns = ["slug", *paths.values()] + (["full_text"] if name == "sources" else [])
        rows = {}
        for row in model.objects.values(*columns):
            value = {}
            for key, path in paths.items():
                value[key] = self._db_value(section, key, row[path])
            if name == "sources":
                value["full_text_sha256"] = hashlib.sha256(row["full_text"].encode("utf-8")).hexdigest()
                # text_file names where the text came from; the text itself is what is compared.
                fixture = self.fx.entries["sources"].get(row["slug"])
                value["text_file"] = fixture.value["text_file"] if fixture else ""
            rows[row["slug"]] = value
        for f in section.fields:
            if f.kind == "refs":
                through = getattr(model, f.name).through
                src, dst = getattr(model, f.name).field.m2m_field_name(), getattr(model, f.name).field.m2m_reverse_field_name()
                for slug in rows:
                    rows[slug][f.name] = []
                for a, b in through.objects.values_list(f"{src}__slug", f"{dst}__slug"):
                    rows[a][f.name].append(b)
                for slug in rows:
                    rows[slug][f.name].sort()
        return rows

    @staticmethod
    def _db_value(section, key, raw):
        f = next((f for f in section.fields if f.name == key), None)
        if f is None:
            return raw
        if f.kind == "str":
            return raw or ""
        if f.kind == "date":
            return raw.isoformat() if raw else None
        if f.kind == "decimal":
            return _decimal_text(raw) if raw is not None else None
        if f.kind == "strlist":
            return list(raw or [])
        return raw

    def _current_team_links(self):
        # Only teams with at least one row: a team without any is "absent" (created on first load).
        rows = defaultdict(lambda: {"quality_domains": [], "relationship_levels": []})
        for team, domain, basis, note, evidence in TeamQualityDomain.objects.values_list(
            "team__slug", "quality_domain__slug", "basis", "note", "evidence__slug"
        ):
            rows[team]["quality_domains"].append({"domain": domain, "basis": basis, "note": note, "evidence": evidence})
        for team, level, basis, note, evidence in TeamRelationshipLevel.objects.values_list(
            "team__slug", "relationship_level__slug", "basis", "note", "evidence__slug"
        ):
            rows[team]["relationship_levels"].append({"level": level, "basis": basis, "note": note, "evidence": evidence})
        for value in rows.values():
            value["quality_domains"].sort(key=lambda r: r["domain"])
            value["relationship_levels"].sort(key=lambda r: r["level"])
        return dict(rows)

    def _current_configurations(self):
        section = SECTION_BY_NAME["configurations"]
        scalar = ["title", "activity", "effect", "statement", "influence", "confidence", "status", "notes"]
        refs = ["mechanism", "theme", "relationship_level"]
        rows = {}
        for row in CMOConfiguration.objects.values("slug", *scalar, *(f"{r}__slug" for r in refs)):
            value = {k: row[k] for k in scalar}
            value.update({r: row[f"{r}__slug"] for r in refs})
            value.update(teams=[], contexts=[], outcomes=[], quality_domains=[], pathways=[], wish_shifts=[], evidence=[])
            rows[row["slug"]] = value
        for f in section.fields:
            if f.kind != "refs":
                continue
            rel = getattr(CMOConfiguration, f.name)
            src, dst = rel.field.m2m_field_name(), rel.field.m2m_reverse_field_name()
            for a, b in rel.through.objects.values_list(f"{src}__slug", f"{dst}__slug"):
                rows[a][f.name].append(b)
        for value in rows.values():
            for key in ("teams", "contexts", "outcomes", "quality_domains"):
                value[key].sort()
        for conf, pathway in ConfigurationPathway.objects.order_by("configuration", "order", "pk").values_list(
            "configuration__slug", "pathway__slug"
        ):
            rows[conf]["pathways"].append(pathway)
        for conf, dimension, toward, between, note in WishShift.objects.values_list(
            "configuration__slug", "dimension__slug", "toward__slug", "between__slug", "note"
        ):
            rows[conf]["wish_shifts"].append({"dimension": dimension, "toward": toward, "between": between, "note": note})
        for conf, excerpt, stance, part, note in EvidenceLink.objects.values_list(
            "configuration__slug", "excerpt__slug", "stance", "part", "note"
        ):
            rows[conf]["evidence"].append({"excerpt": excerpt, "stance": stance, "part": part, "note": note})
        for value in rows.values():
            value["wish_shifts"].sort(key=lambda r: (r["dimension"], r["between"]))
            value["evidence"].sort(key=lambda r: (r["excerpt"], r["part"]))
        return rows

    # -- writing ---------------------------------------------------------------------------------

    def write(self, section, entry, current):
        try:
            if section.name == "team_links":
                self._write_team_links(entry)
            elif section.name == "configurations":
                self._write_configuration(entry, created=current is None)
            else:
                self._write_row(section, entry, created=current is None)
        except SeedError:
            raise
        except Exception as exc:  # an IntegrityError or ValidationError from the database or a model
            raise SeedError([entry.where(None, f"could not be written: {exc}")]) from exc

    def _assign(self, section, instance, value):
        for f in section.fields:
            if f.kind in ("nested", "records", "refs", "orefs") or f.name == "slug":
                continue
            if section.name == "sources" and f.name == "text_file":
                continue
            if f.kind == "ref":
                setattr(instance, f"{f.name}_id", self._id(f.target, value[f.name]))
            elif f.kind == "decimal":
                setattr(instance, f.name, None if value[f.name] is None else decimal.Decimal(value[f.name]))
            elif f.kind == "date":
                setattr(instance, f.name, None if value[f.name] is None else datetime.date.fromisoformat(value[f.name]))
            else:
                setattr(instance, f.name, value[f.name])
        if section.parent:
            parent_section, parent_field, _ = section.parent
            setattr(instance, f"{parent_field}_id", self._id(parent_section, value[parent_field]))

    def _write_row(self, section, entry, created):
        model = section.model
        instance = model(slug=entry.slug) if created else model.objects.get(slug=entry.slug)
        self._assign(section, instance, entry.value)
        if section.name == "sources":
            instance.full_text = self.fx.source_texts[entry.slug]
        if section.name == "excerpts":
            source = self._sources_by_id().get(instance.source_id)
            if source is not None:
                instance.source = source  # reuse one Source object: save() re-checks the span against it
        m2m = [f for f in section.fields if f.kind == "refs"]
        self._mark(instance)
        if m2m:
            self._save_with_m2m(instance, created, {f.name: self._ids_for(f.target, entry.value[f.name]) for f in m2m})
        else:
            instance.save()
        if created:
            self._ids(section.name)[entry.slug] = instance.pk

    def _sources_by_id(self):
        if not hasattr(self, "_source_cache"):
            self._source_cache = {s.pk: s for s in Source.objects.all()}
        return self._source_cache

    def _ids_for(self, section_name, slugs):
        return [self._id(section_name, slug) for slug in slugs]

    def _save_with_m2m(self, instance, created, m2m_ids):
        """Save a row and its many-to-many sets, recording one history row with the final sets."""
        instance.skip_history_when_saving = True
        try:
            instance.save()
            for name, ids in m2m_ids.items():
                getattr(instance, name).set(ids)
        finally:
            del instance.skip_history_when_saving
        recorder = _history_recorder(type(instance))
        if recorder is not None:
            recorder.create_historical_record(instance, "+" if created else "~")

    def _sync(self, model, existing, wanted, make, fields):
        """Make the rows `existing` (key -> instance) match `wanted` (key -> dict), with history."""
        for key, instance in existing.items():
            if key not in wanted:
                self._mark(instance).delete()
        for key, attrs in wanted.items():
            instance = existing.get(key)
            if instance is None:
                self._mark(make(key, attrs)).save()
            elif any(getattr(instance, f) != attrs[f] for f in fields):
                for f in fields:
                    setattr(instance, f, attrs[f])
                self._mark(instance).save()

    def _write_team_links(self, entry):
        team_id = self._id("teams", entry.slug)
        for key, model, ref_field, section_name in (
            ("quality_domains", TeamQualityDomain, "quality_domain", "quality_domains"),
            ("relationship_levels", TeamRelationshipLevel, "relationship_level", "relationship_levels"),
        ):
            record_key = "domain" if key == "quality_domains" else "level"
            existing = {getattr(row, f"{ref_field}_id"): row for row in model.objects.filter(team_id=team_id)}
            wanted = {
                self._id(section_name, r[record_key]): {
                    "basis": r["basis"], "note": r["note"], "evidence_id": self._id("excerpts", r["evidence"])
                }
                for r in entry.value[key]
            }
            self._sync(
                model, existing, wanted,
                lambda pk, attrs, model=model, ref_field=ref_field: model(team_id=team_id, **{f"{ref_field}_id": pk}, **attrs),
                ["basis", "note", "evidence_id"],
            )

    def _write_configuration(self, entry, created):
        section = SECTION_BY_NAME["configurations"]
        value = entry.value
        instance = CMOConfiguration(slug=entry.slug) if created else CMOConfiguration.objects.get(slug=entry.slug)
        self._assign(section, instance, value)
        self._mark(instance)
        self._save_with_m2m(
            instance, created,
            {name: self._ids_for(target, value[name]) for name, target in (
                ("teams", "teams"), ("contexts", "contexts"), ("outcomes", "outcomes"), ("quality_domains", "quality_domains"))},
        )
        conf_id = instance.pk
        self._sync(
            ConfigurationPathway,
            {row.pathway_id: row for row in ConfigurationPathway.objects.filter(configuration_id=conf_id)},
            {self._id("pathways", slug): {"order": index + 1} for index, slug in enumerate(value["pathways"])},
            lambda pk, attrs: ConfigurationPathway(configuration_id=conf_id, pathway_id=pk, **attrs),
            ["order"],
        )
        self._sync(
            WishShift,
            {(row.dimension_id, row.between_id): row for row in WishShift.objects.filter(configuration_id=conf_id)},
            {
                (self._id("wish_dimensions", r["dimension"]), self._id("relationship_pairs", r["between"])): {
                    "toward_id": self._id("poles", r["toward"]), "note": r["note"]
                }
                for r in value["wish_shifts"]
            },
            lambda key, attrs: WishShift(configuration_id=conf_id, dimension_id=key[0], between_id=key[1], **attrs),
            ["toward_id", "note"],
        )
        self._sync(
            EvidenceLink,
            {(row.excerpt_id, row.part): row for row in EvidenceLink.objects.filter(configuration_id=conf_id)},
            {
                (self._id("excerpts", r["excerpt"]), r["part"]): {"stance": r["stance"], "note": r["note"]}
                for r in value["evidence"]
            },
            lambda key, attrs: EvidenceLink(configuration_id=conf_id, excerpt_id=key[0], part=key[1], **attrs),
            ["stance", "note"],
        )
        if created:
            self._ids("configurations")[entry.slug] = conf_id


def load(fixtures_dir, *, overwrite=False, dry_run=False):
    """Validate every fixture, then apply them in one transaction. Raises SeedError on any problem
    (nothing is written); returns a Result with counts per model and the conflicts found."""
    fixtures = Fixtures(fixtures_dir)
    loader = Loader(fixtures, overwrite=overwrite)
    with transaction.atomic():
        loader.run()
        if dry_run:
            transaction.set_rollback(True)
    return Result(loader.counts, loader.conflicts, dry_run)
