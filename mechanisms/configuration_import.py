"""CMO spreadsheets (issue 12): one row of a .csv or .xlsx file is one CMO configuration, imported
into one programme as a draft, with its evidence located verbatim in the programme's sources.

One function, ``import_configurations``, behind three doors (``manage.py import_configurations``, the
workbench's import page, ``POST /api/imports/configurations/``); it runs through
evidence/import_report.run_import, so a dry run does exactly what the real run would and rolls back,
and any error anywhere writes nothing. Every row is read to the end so the report names every error
(file, row, column, value, reason), not only the first.

Columns (header row first; names are case-insensitive, spaces read as underscores; COLUMNS below):
several values in one cell are separated by ``;``. Vocabulary cells (teams, contexts, mechanism, theme,
outcomes) name a term of the programme by slug or by name (case-insensitive); quality domains,
relationship level and outcome kind name a shared term the same way. Evidence comes in groups of
columns: ``evidence`` (the quote), ``evidence_source`` (a source slug of the programme),
``evidence_part`` (context, mechanism or outcome; several with ``;``), ``evidence_stance`` (supports,
challenges or illustrates; default supports) and ``evidence_kind`` (default participant quote); a
second quote of the same row goes in ``evidence_2``, ``evidence_source_2``..., and so on. A quote is
not split on ``;`` (quotes hold semicolons).

Locating a quote: verbatim first; if it is not there, after collapsing runs of white space (in the
quote and the source alike: a line break of the PDF extraction equals a space), mapped back to the
exact span of the original text, so the excerpt's text is the source's own characters between its
offsets. Found nowhere, or more than once, is an error of the row naming which.
"""

import csv
import difflib
import io
import os
import re
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.text import slugify

from cmo_kb.vocabulary import ReviewStatus
from evidence.import_report import ImportReport, history_reason, run_import

SEPARATOR = ";"
MAX_ROWS = 5000
MAX_BYTES = 20 * 1024 * 1024

# Column -> what it holds (the template's second header line, the README and the page show these).
COLUMNS = {
    "title": "Required. The configuration's title.",
    "slug": "Optional. Unique across the knowledge base; made from the title when left out.",
    "teams": "Teams of the programme (slug or name); several with ';' for a cross-team theory.",
    "contexts": "Contexts of the programme (slug or name), ';'-separated.",
    "activity": "The activity that offered the resource (not the mechanism).",
    "resource": "The resource the programme offered (the mechanism's resource, Dalkin et al. 2015).",
    "reasoning": "The reasoning or response the resource triggered in people.",
    "mechanism": "The enabling mechanism (slug or name).",
    "theme": "A theme of that mechanism (slug or name).",
    "effect": "triggered or disabled (default triggered).",
    "influence": "enabler or barrier (default enabler).",
    "outcomes": "Outcomes of the programme (slug or name), ';'-separated.",
    "outcome_kind": "Outcome kind (slug or name) given to outcomes created with create_terms.",
    "quality_domains": "IoM quality domains (slug or name), ';'-separated.",
    "relationship_level": "Relationship level (slug or name).",
    "confidence": "high, medium or low (default medium).",
    "statement": "Required. In C, M leads to O.",
    "notes": "Curators' internal notes.",
    "status": "Ignored: an imported configuration is always a draft.",
    "evidence": "A verbatim quote of the source (white space may differ).",
    "evidence_source": "The source's slug (in the programme).",
    "evidence_part": "context, mechanism or outcome; several with ';'.",
    "evidence_stance": "supports, challenges or illustrates (default supports).",
    "evidence_kind": "participant_quote, evaluator_finding, figure or literature_quote (default participant_quote).",
}
REQUIRED = ("title", "statement")
EVIDENCE_FIELDS = ("evidence", "evidence_source", "evidence_part", "evidence_stance", "evidence_kind")
_SLUG = re.compile(r"[-a-zA-Z0-9_]+")
_EVIDENCE_COLUMN = re.compile(r"^(evidence(?:_source|_part|_stance|_kind)?)_(\d+)$")

EXAMPLE_ROW = {
    "title": "Patients fear shared care puts nurses' jobs at risk",
    "slug": "",
    "teams": "shared-haemodialysis-care",
    "contexts": "Patients resigned to dependence on nurses; Financial constraints",
    "activity": "Training patients to take on parts of their own haemodialysis",
    "resource": "Training and the chance to run parts of their own treatment",
    "reasoning": "Some patients read it as a plan to cut nurses and hold back",
    "mechanism": "patient-beliefs",
    "theme": "Motivation to engage",
    "effect": "disabled",
    "influence": "barrier",
    "outcomes": "Some patients refuse self-care",
    "outcome_kind": "",
    "quality_domains": "person-centredness",
    "relationship_level": "",
    "confidence": "medium",
    "statement": "Where patients are resigned to depending on nurses amid cuts, they read shared care as a "
                 "staff-cutting agenda (patients' beliefs disabled), and some refuse self-care.",
    "notes": "",
    "status": "",
    "evidence": "We were worried our jobs would go.",
    "evidence_source": "ctg-evaluation-report",
    "evidence_part": "mechanism",
    "evidence_stance": "supports",
    "evidence_kind": "participant_quote",
}


class UnreadableFile(Exception):
    """The file cannot be read as a spreadsheet at all (the API answers 400 naming ``file``)."""


def file_name_of(file):
    name = getattr(file, "name", None) if not isinstance(file, (str, os.PathLike)) else os.fspath(file)
    # Control characters (a NUL above all, which PostgreSQL refuses in the history's change reason) go.
    return re.sub(r"[\x00-\x1f\x7f]", "", os.path.basename(str(name or ""))) or "upload"


def read_rows(file):
    """[(row number, {column: text})] of the first sheet, header row first (row 1). ``file`` is a
    path or a file object with a name (.csv or .xlsx). Raises UnreadableFile."""
    name = file_name_of(file)
    extension = os.path.splitext(name)[1].lower()
    if extension not in (".csv", ".xlsx"):
        raise UnreadableFile(f"'{name}' is neither a .csv nor a .xlsx file.")
    if isinstance(file, (str, os.PathLike)):
        try:
            with open(file, "rb") as handle:
                data = handle.read(MAX_BYTES + 1)
        except OSError as error:
            raise UnreadableFile(f"Cannot open '{name}': {error.strerror or error}.") from None
    else:
        if hasattr(file, "seek"):
            file.seek(0)
        data = file.read(MAX_BYTES + 1)
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > MAX_BYTES:
        raise UnreadableFile(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB.")
    if not data:
        raise UnreadableFile("The file is empty.")
    table = _csv_table(data) if extension == ".csv" else _xlsx_table(data)
    return list(table)


def _csv_table(data):
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UnreadableFile(f"Not UTF-8 text (byte {error.start} cannot be read): save the CSV as UTF-8.") from None
    try:
        return [[cell for cell in row] for row in csv.reader(io.StringIO(text, newline=""), strict=True)]
    except csv.Error as error:
        raise UnreadableFile(f"Not a readable CSV file: {error}.") from None


def _xlsx_table(data):
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # a zip that is no workbook raises many kinds (BadZipFile, KeyError...)
        raise UnreadableFile(f"Not a readable .xlsx workbook ({type(error).__name__}).") from None
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            raise UnreadableFile("The workbook has no sheet.")
        rows = []
        for row in sheet.iter_rows(values_only=True):
            rows.append(["" if value is None else _cell_text(value) for value in row])
            if len(rows) > MAX_ROWS + 1:
                break
        return rows
    except UnreadableFile:
        raise
    except Exception as error:
        raise UnreadableFile(f"Not a readable .xlsx workbook ({type(error).__name__}).") from None
    finally:
        workbook.close()


def _cell_text(value):
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def normalise_header(text):
    return re.sub(r"[\s-]+", "_", text.strip().lower())


def _split(value):
    return [part.strip() for part in value.split(SEPARATOR) if part.strip()]


# --- Locating a quote in its source -------------------------------------------------------------


def _occurrences(text, needle, limit=2):
    found, index = [], text.find(needle)
    while index != -1 and len(found) < limit:
        found.append(index)
        index = text.find(needle, index + 1)
    return found


class CollapsedText:
    """A text with every run of white space collapsed to one space, and where each of its characters
    came from in the original."""

    def __init__(self, text):
        chars, origin = [], []
        in_space = False
        for index, char in enumerate(text):
            if char.isspace():
                if not in_space:
                    chars.append(" ")
                    origin.append(index)
                in_space = True
            else:
                chars.append(char)
                origin.append(index)
                in_space = False
        self.text = "".join(chars)
        self.origin = origin


def collapse(text):
    return " ".join(text.split())


def locate(quote, full_text, collapsed=None):
    """(start, end, how) of the one place ``quote`` is in ``full_text``, where how is "verbatim" or
    "collapsed"; or (None, count, how) when it is there 0 or 2+ times."""
    found = _occurrences(full_text, quote)
    if found:
        return (found[0], found[0] + len(quote), "verbatim") if len(found) == 1 else (None, len(found), "verbatim")
    needle = collapse(quote)
    if not needle:
        return None, 0, "collapsed"
    collapsed = collapsed or CollapsedText(full_text)
    found = _occurrences(collapsed.text, needle)
    if len(found) != 1:
        return None, len(found), "collapsed"
    first = found[0]
    # The needle starts and ends with a character that is not white space: each maps to one character.
    start = collapsed.origin[first]
    end = collapsed.origin[first + len(needle) - 1] + 1
    return start, end, "collapsed"


# --- Vocabulary look-up -------------------------------------------------------------------------


@dataclass
class Vocabulary:
    """The terms of one kind a row may name: by slug and by lower-cased name (and short name)."""

    label: str  # as the report says it: "context", "team"...
    model: type
    rows: list
    creatable: bool = False
    by_key: dict = field(default_factory=dict)

    def __post_init__(self):
        for row in self.rows:
            self.add(row)

    def add(self, row):
        for key in (row.slug, getattr(row, "name", ""), getattr(row, "short_name", "")):
            if key:
                self.by_key.setdefault(key.strip().lower(), []).append(row)

    def find(self, value):
        return self.by_key.get(value.strip().lower(), [])

    def near(self, value):
        """Up to three terms whose slug or name is close to ``value``, as "slug (name)"."""
        keys = {}
        for row in self.rows:
            for key in (row.slug, row.name):
                keys.setdefault(key.lower(), row)
        near = []
        for key in difflib.get_close_matches(value.strip().lower(), list(keys), n=6, cutoff=0.6):
            if keys[key] not in near:
                near.append(keys[key])
        return [f"{row.slug} ({row.name})" if row.name != row.slug else row.slug for row in near[:3]]


def _vocabularies(programme):
    from mechanisms.models import Context, EnablingMechanism, MechanismTheme, Outcome, OutcomeKind
    from projects.models import QualityDomain, RelationshipLevel, Team

    return {
        "teams": Vocabulary("team", Team, list(Team.objects.filter(programme=programme)), creatable=True),
        "contexts": Vocabulary("context", Context, list(Context.objects.filter(programme=programme)), creatable=True),
        "mechanism": Vocabulary("mechanism", EnablingMechanism,
                                list(EnablingMechanism.objects.filter(programme=programme)), creatable=True),
        "theme": Vocabulary("theme", MechanismTheme,
                            list(MechanismTheme.objects.filter(programme=programme).select_related("mechanism")),
                            creatable=True),
        "outcomes": Vocabulary("outcome", Outcome, list(Outcome.objects.filter(programme=programme)), creatable=True),
        "outcome_kind": Vocabulary("outcome kind", OutcomeKind, list(OutcomeKind.objects.all())),
        "quality_domains": Vocabulary("quality domain", QualityDomain, list(QualityDomain.objects.all())),
        "relationship_level": Vocabulary("relationship level", RelationshipLevel, list(RelationshipLevel.objects.all())),
    }


def _choice(choices, value, default):
    """The stored value of a TextChoices member named by value or label (case-insensitive)."""
    if not value.strip():
        return default
    wanted = value.strip().lower().replace(" ", "_")
    for member in choices:
        if wanted in (member.value, member.label.lower().replace(" ", "_")):
            return member.value
    return None


# --- The import ---------------------------------------------------------------------------------


def import_configurations(file, programme, user=None, dry_run=False, create_terms=False):
    """Import the configurations of a .csv or .xlsx file (a path or an uploaded file) into
    ``programme`` as drafts, as ``user`` (None: the operator). Returns the ImportReport; nothing is
    written on a dry run or when any error was found. Raises ProgrammeWriteRefused when ``user`` does
    not write in the programme."""
    from projects.membership import ProgrammeWriteRefused, can_write

    report = ImportReport(file_name_of(file), dry_run=dry_run)
    if user is not None and not can_write(user, programme):
        raise ProgrammeWriteRefused(programme, (
            f"You do not write in the programme '{programme.slug}': only its evaluators and lead evaluators "
            "can import configurations into it. Ask its lead to add you as a member."
        ))
    try:
        table = read_rows(file)
    except UnreadableFile as error:
        report.error(report.file_name, "file", "", str(error))
        return report
    importer = _Importer(report, programme, user, create_terms)
    return run_import(lambda report: importer.run(table), report, user=user)


class _Importer:
    def __init__(self, report, programme, user, create_terms):
        self.report = report
        self.programme = programme
        self.user = user
        self.create_terms = create_terms
        self.reason = history_reason(report.file_name)
        self.collapsed = {}  # source pk -> CollapsedText
        self.slugs_in_file = {}

    # --- the header

    def _columns(self, header):
        """{index: column} of the header row, noting unknown and repeated columns as errors."""
        report, columns, seen = self.report, {}, set()
        where = f"{report.file_name} row 1"
        for index, raw in enumerate(header):
            name = normalise_header(raw)
            if not name:
                continue
            base = _EVIDENCE_COLUMN.match(name)
            known = name in COLUMNS or (base and base.group(2) != "1" and base.group(1) in EVIDENCE_FIELDS)
            if base and base.group(2) == "1":
                name, known = base.group(1), True  # evidence_1 is evidence
            if not known:
                near = difflib.get_close_matches(name, list(COLUMNS), n=1, cutoff=0.6)
                report.error(where, "header", raw, "unknown column" + (
                    f"; did you mean {' or '.join(near)}?" if near else f". Columns: {', '.join(COLUMNS)}."))
                continue
            if name in seen:
                report.error(where, "header", raw, "this column appears twice")
                continue
            seen.add(name)
            columns[index] = name
        for name in REQUIRED:
            if name not in seen:
                report.error(where, "header", "", f"the required column '{name}' is missing")
        return columns

    def run(self, table):
        report = self.report
        if not table or not any(cell.strip() for cell in table[0]):
            report.error(report.file_name, "header", "", "the first row must name the columns (title, statement, ...)")
            return
        columns = self._columns(table[0])
        rows = [(number, row) for number, row in enumerate(table[1:], start=2) if any(cell.strip() for cell in row)]
        if len(rows) > MAX_ROWS:
            report.error(report.file_name, "", "", f"more than {MAX_ROWS} rows: split the file")
            return
        if report.errors:
            return
        if not rows:
            report.error(report.file_name, "", "", "no configuration rows below the header")
            return
        self.vocabularies = _vocabularies(self.programme)
        from evidence.models import Source

        self.sources = {source.slug: source for source in Source.objects.filter(programme=self.programme)}
        report.progress(0, len(rows), "rows")
        for done, (number, row) in enumerate(rows, start=1):
            where = f"{report.file_name} row {number}"
            values = {}
            for index, cell in enumerate(row):
                column = columns.get(index)
                if column is None:
                    if cell.strip():
                        report.error(where, f"column {index + 1}", cell, "a value in a column without a header")
                    continue
                if "\x00" in cell:
                    report.error(where, column, cell.replace("\x00", "\\x00"), "holds a NUL character")
                    cell = cell.replace("\x00", "")
                values[column] = cell
            self._row(where, values)
            report.progress(done, len(rows), "rows")

    # --- one row

    def _row(self, where, values):
        from mechanisms.models import CMOConfiguration, Confidence, Effect, Influence

        report = self.report
        errors_before = len(report.errors)
        text = {name: values.get(name, "") for name in COLUMNS}
        title = text["title"].strip()
        statement = text["statement"]
        if not title:
            report.error(where, "title", "", "a configuration needs a title")
        if not statement.strip():
            report.error(where, "statement", "", "a configuration needs a statement (in C, M leads to O)")
        slug = text["slug"].strip() or slugify(title)[:120].strip("-")
        if len(title) > 300:
            report.error(where, "title", title[:60] + "…", f"longer than 300 characters ({len(title)})")
        if text["slug"].strip() and (len(slug) > 120 or not _SLUG.fullmatch(slug)):
            report.error(where, "slug", slug, "not a slug: at most 120 letters, digits, hyphens and underscores")
        elif title and not slug:
            report.error(where, "title", title, "no slug can be made from it: give a slug column")
        elif slug:
            if slug in self.slugs_in_file:
                report.error(where, "slug", slug, f"the same slug as {self.slugs_in_file[slug]}")
            elif CMOConfiguration.objects.filter(slug=slug).exists():
                report.error(where, "slug", slug, "a configuration with this slug already exists "
                             "(give a slug column to import it under another one)")
            self.slugs_in_file.setdefault(slug, where)
        status = text["status"].strip()
        if status and status.lower() != ReviewStatus.DRAFT:
            report.note(f"{where}: status {status!r} ignored: an imported configuration is a draft")

        choices = {}
        for column, enum, default in (("effect", Effect, Effect.TRIGGERED), ("influence", Influence, Influence.ENABLER),
                                      ("confidence", Confidence, Confidence.MEDIUM)):
            choices[column] = _choice(enum, text[column], default)
            if choices[column] is None:
                report.error(where, column, text[column], f"not one of {', '.join(enum.values)}")

        kind = None
        if text["outcome_kind"].strip():
            kind = self._terms(where, "outcome_kind", text["outcome_kind"], many=False)
        mechanism = self._terms(where, "mechanism", text["mechanism"], many=False)
        theme = self._terms(where, "theme", text["theme"], many=False, mechanism=mechanism)
        teams = self._terms(where, "teams", text["teams"])
        contexts = self._terms(where, "contexts", text["contexts"])
        outcomes = self._terms(where, "outcomes", text["outcomes"], outcome_kind=kind)
        quality_domains = self._terms(where, "quality_domains", text["quality_domains"])
        level = self._terms(where, "relationship_level", text["relationship_level"], many=False)
        evidence = self._evidence(where, values)
        if len(report.errors) > errors_before:
            return

        configuration = CMOConfiguration(
            programme=self.programme, slug=slug, title=title, statement=statement, activity=text["activity"],
            resource=text["resource"], reasoning=text["reasoning"], mechanism=mechanism, theme=theme, effect=choices["effect"], influence=choices["influence"],
            confidence=choices["confidence"], relationship_level=level, notes=text["notes"],
            status=ReviewStatus.DRAFT, created_by=self.user, updated_by=self.user,
        )
        fields = {"title": ("title", title), "slug": ("slug", slug), "statement": ("statement", statement),
                  "mechanism": ("mechanism", text["mechanism"]), "theme": ("theme", text["theme"]),
                  "activity": ("activity", text["activity"]), "notes": ("notes", text["notes"]),
                  "resource": ("resource", text["resource"]), "reasoning": ("reasoning", text["reasoning"])}
        try:
            with transaction.atomic():
                self._save(configuration)
                configuration.teams.set(teams)
                configuration.contexts.set(contexts)
                configuration.outcomes.set(outcomes)
                configuration.quality_domains.set(quality_domains)
                report.created("CMO configuration", slug, where)
                self._link(where, configuration, evidence)
        except ValidationError as error:
            report.validation_error(where, error, fields)
        except PermissionDenied as error:
            report.error(where, "", "", str(getattr(error, "message", error)))

    def _save(self, instance):
        instance._change_reason = self.reason
        instance.full_clean()
        instance.save()

    # --- vocabulary cells

    def _terms(self, where, column, cell, many=True, mechanism=None, outcome_kind=None):
        vocabulary = self.vocabularies[column]
        values = _split(cell) if many else ([cell.strip()] if cell.strip() else [])
        if not many and len(_split(cell)) > 1:
            self.report.error(where, column, cell, f"one {vocabulary.label} only")
            return None
        found = []
        for value in values:
            matches = vocabulary.find(value)
            if column == "theme" and len(matches) > 1 and mechanism is not None:
                matches = [m for m in matches if m.mechanism_id == mechanism.pk] or matches
            matches = list({m.pk: m for m in matches}.values())
            if len(matches) == 1:
                term = matches[0]
                if column == "theme" and mechanism is not None and term.mechanism_id != mechanism.pk:
                    self.report.error(where, column, value, f"a theme of '{term.mechanism.slug}', not of the "
                                      f"row's mechanism '{mechanism.slug}'")
                    continue
                found.append(term)
            elif matches:
                self.report.error(where, column, value, f"names several {vocabulary.label}s: "
                                  f"{', '.join(sorted(m.slug for m in matches))}; give the slug")
            elif self.create_terms and vocabulary.creatable:
                term = self._create_term(where, column, vocabulary, value, mechanism, outcome_kind)
                if term is not None:
                    found.append(term)
            else:
                near = vocabulary.near(value)
                where_terms = f"in the programme '{self.programme.slug}'" if vocabulary.creatable else "in the knowledge base"
                reason = f"no such {vocabulary.label} {where_terms}"
                if near:
                    reason += f"; near: {', '.join(near)}"
                if vocabulary.creatable:
                    reason += " (or import with create_terms to create it)"
                self.report.error(where, column, value, reason)
        if many:
            return list({term.pk: term for term in found}.values())
        return found[0] if found else None

    def _create_term(self, where, column, vocabulary, value, mechanism, outcome_kind):
        slug = slugify(value)[:80].strip("-")
        if not slug:
            self.report.error(where, column, value, f"no slug can be made from this new {vocabulary.label}'s name")
            return None
        name = value if slug != value else value.replace("-", " ").capitalize()
        fields = {"programme": self.programme, "slug": slug, "name": name[:200]}
        if column == "teams":
            fields.update(name=name[:300], short_name=name[:80], created_by=self.user, updated_by=self.user)
        elif column == "theme":
            if mechanism is None:
                self.report.error(where, column, value, "a new theme needs the row's mechanism")
                return None
            fields["mechanism"] = mechanism
        elif column == "outcomes":
            if outcome_kind is None:
                self.report.error(where, column, value, "a new outcome needs a kind: fill the outcome_kind column")
                return None
            fields["kind"] = outcome_kind
        term = vocabulary.model(**fields)
        try:
            with transaction.atomic():
                self._save(term)
        except ValidationError as error:
            self.report.validation_error(where, error, {name: (column, value) for name in ("slug", "name", "__all__")})
            return None
        vocabulary.rows.append(term)
        vocabulary.add(term)
        self.report.created(vocabulary.label, f"{slug} ({name})", where)
        return term

    # --- evidence cells

    def _evidence(self, where, values):
        """[(excerpt span, parts, stance, kind, group)] of the row's evidence groups."""
        from evidence.models import ExcerptKind, Part, Stance

        groups = sorted({int(m.group(2)) for name in values if (m := _EVIDENCE_COLUMN.match(name))} | {1})
        found = []
        for number in groups:
            suffix = "" if number == 1 else f"_{number}"
            cell = {name: values.get(name + suffix, "") for name in EVIDENCE_FIELDS}
            column = {name: name + suffix for name in EVIDENCE_FIELDS}
            quote = cell["evidence"]
            if not quote.strip():
                extra = [column[name] for name in EVIDENCE_FIELDS[1:] if cell[name].strip()]
                if extra:
                    self.report.error(where, column["evidence"], "", f"no quote, but {', '.join(extra)} filled in")
                continue
            ok = True
            source = self.sources.get(cell["evidence_source"].strip())
            if source is None:
                near = difflib.get_close_matches(cell["evidence_source"].strip(), list(self.sources), n=3, cutoff=0.6)
                reason = (f"no such source in the programme '{self.programme.slug}'" if cell["evidence_source"].strip()
                          else "the quote's source is missing")
                self.report.error(where, column["evidence_source"], cell["evidence_source"],
                                  reason + (f"; near: {', '.join(near)}" if near else ""))
                ok = False
            parts = []
            for value in _split(cell["evidence_part"]):
                part = _choice(Part, value, None)
                if part is None:
                    self.report.error(where, column["evidence_part"], value, f"not one of {', '.join(Part.values)}")
                    ok = False
                elif part not in parts:
                    parts.append(part)
            if not parts and ok and not cell["evidence_part"].strip():
                self.report.error(where, column["evidence_part"], "", "which part the quote speaks to is missing "
                                  f"({', '.join(Part.values)})")
                ok = False
            stance = _choice(Stance, cell["evidence_stance"], Stance.SUPPORTS)
            if stance is None:
                self.report.error(where, column["evidence_stance"], cell["evidence_stance"],
                                  f"not one of {', '.join(Stance.values)}")
                ok = False
            kind = _choice(ExcerptKind, cell["evidence_kind"], ExcerptKind.PARTICIPANT_QUOTE)
            if kind is None:
                self.report.error(where, column["evidence_kind"], cell["evidence_kind"],
                                  f"not one of {', '.join(ExcerptKind.values)}")
                ok = False
            if source is None:
                continue
            if source.pk not in self.collapsed:
                self.collapsed[source.pk] = CollapsedText(source.full_text)
            start, end, how = locate(quote, source.full_text, self.collapsed[source.pk])
            if start is None:
                shown = quote if len(quote) <= 200 else quote[:199] + "…"
                if end == 0:
                    self.report.error(where, column["evidence"], shown,
                                      f"not found in the source '{source.slug}', even with white space collapsed")
                else:
                    self.report.error(where, column["evidence"], shown,
                                      f"found {'more than once' if end > 1 else 'twice'} in the source '{source.slug}' "
                                      f"({'verbatim' if how == 'verbatim' else 'with white space collapsed'}): "
                                      "quote more of it so that it is found once")
                continue
            if ok:
                found.append((source, start, end, parts, stance, kind, column["evidence"]))
        return found

    def _link(self, where, configuration, evidence):
        from evidence.models import EvidenceExcerpt, EvidenceLink

        linked = set()
        for source, start, end, parts, stance, kind, column in evidence:
            excerpt = EvidenceExcerpt.objects.filter(source=source, start=start, end=end).first()
            if excerpt is None:
                excerpt = EvidenceExcerpt(source=source, start=start, end=end, text=source.full_text[start:end],
                                          slug=self._excerpt_slug(source, start, end), kind=kind,
                                          created_by=self.user, updated_by=self.user)
                try:
                    self._save(excerpt)
                except ValidationError as error:
                    self.report.validation_error(where, error, {"text": (column, excerpt.text)})
                    raise ValidationError({}) from error
                self.report.created("evidence excerpt", f"{excerpt.slug} ({source.slug} {start}–{end})", where)
            for part in parts:
                if (excerpt.pk, part) in linked:
                    continue
                linked.add((excerpt.pk, part))
                link = EvidenceLink(excerpt=excerpt, configuration=configuration, part=part, stance=stance,
                                    created_by=self.user, updated_by=self.user)
                self._save(link)
                self.report.created("evidence link", f"{excerpt.slug} {stance} {configuration.slug} ({part})", where)

    @staticmethod
    def _excerpt_slug(source, start, end):
        from evidence.models import EvidenceExcerpt

        base = slugify(f"{source.slug[:90]}-{start}-{end}")
        slug, n = base, 1
        while EvidenceExcerpt.objects.filter(slug=slug).exists():
            n += 1
            slug = f"{base}-{n}"
        return slug


def template_rows():
    """The header row and one example row of the import template."""
    header = list(COLUMNS)
    return [header, [EXAMPLE_ROW.get(name, "") for name in header]]


def template_csv():
    """The template as CSV text (UTF-8 with a BOM, so Excel reads its accents)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(template_rows())
    return "\ufeff" + buffer.getvalue()


def template_xlsx():
    """The template as .xlsx bytes: the header, one example row, and a second sheet saying what each
    column holds."""
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "configurations"
    for row in template_rows():
        sheet.append(row)
    help_sheet = workbook.create_sheet("columns")
    help_sheet.append(["column", "what it holds"])
    for name, description in COLUMNS.items():
        help_sheet.append([name, description])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
