"""REFI-QDA projects (.qdpx) and codebooks (.qdc) imported into a programme (issue 12): the one
function behind three doors (``manage.py import_refi_qda``, the workbench's "Import a QDA project"
page, ``POST /api/imports/refi-qda/``).

evidence/refi_qda/reader.py reads the file into dataclasses; here they are written through the ORM
inside evidence/import_report.run_import: one transaction, a dry run does exactly what the real run
does and rolls back, and any error anywhere writes nothing. Everything is checked before the first
write, so the report names every error, each with the file, the element and its line.

What maps where
---------------
- <Code> -> evidence.Code of the programme, matched by GUID (never by name: NVivo repeats names):
  a re-import updates the code (name, description, colour, codability, parent, order among its
  siblings) rather than adding another.
- <User> -> an existing account whose username is the user's id or name (or whose full name is the
  user's name), or else a new inactive account (no password) named after them, so each coding keeps
  its coder.
- <TextSource> -> evidence.Source (title = name, qda_guid = its GUID; kind, date, authors and
  publisher from its variables where the project has them, else the "interview-transcript" kind).
  The text is stored as read (only a BOM dropped, reader.py), so positions still point into it.
  A re-import matches the source by GUID; a different text is an error (a source's text never
  changes once excerpts point into it).
- <PlainTextSelection> -> evidence.EvidenceExcerpt at exactly its positions (text =
  full_text[start:end], qda_guid = its GUID). Two selections with the same span in one source are one
  excerpt (the model allows one per span). Positions count code points (REFI-QDA's rule); with
  ``offsets="utf16"`` they are read as UTF-16 code units (a character outside the Basic Multilingual
  Plane counts two), as some tools write them, and converted.
- <Coding> -> evidence.Coding of the excerpt with the code (by GUID), by the coding's user (or its
  selection's), at its creationDateTime.
- <Case> -> projects.Team of the programme (matched by qda_guid, then by name), its SelectionRefs
  setting their excerpts' team; the case variables "Short name" and "Organisation" (our export writes
  them) fill the team's.
- <Note> -> evidence.Memo, linked to the codes, excerpts and sources whose NoteRefs name it.
- <Link> between codes and selections -> evidence.Relation.
- Our own export's "Excerpt kinds" codes set each excerpt's kind, and its selection descriptions'
  "Section:" and "Attribution:" lines the excerpt's, so our export comes back as it went out. Its
  source, selection and case GUIDs derive from slugs (evidence/refi_qda/schema.py), so imported into
  the programme it came from it matches those sources, excerpts (by span) and teams, and copies none.
- Sets, the other variables, graphs, picture/PDF/audio/video sources, codings of whole sources, links
  to sources or cases, and anything else with no place in the knowledge base are listed, counted,
  in the report's notes: never dropped silently.
"""

import re
from collections import Counter, defaultdict

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from evidence.bulk_write import BulkWriter, RowError
from evidence.codes import Code, Coding, Memo, Relation, new_guid, normalise_guid
from evidence.import_report import ImportReport, history_reason, run_import
from evidence.models import EvidenceExcerpt, ExcerptKind, Source, SourceKind
from evidence.refi_qda import reader
from evidence.refi_qda.schema import ORIGIN, VARIABLES, guid, selection_guid, source_guid

OFFSETS = ("codepoints", "utf16")
DEFAULT_SOURCE_KIND = "interview-transcript"
PROGRESS_EVERY = 500
RESERVED_SOURCE_SLUGS = {"upload", "export"}
_COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")

# Our own export's variables, by GUID (evidence/refi_qda/schema.py VARIABLES), and the names other
# tools' projects may give the same variables.
_VARIABLE_KEYS = {guid("variable", key): key for key, *_ in VARIABLES}
_VARIABLE_NAMES = {
    "source kind": "source-kind", "kind": "source-kind", "date": "source-date", "authors": "source-authors",
    "author": "source-authors", "publisher": "source-publisher", "short name": "team-short-name",
    "organisation": "team-organisation", "organization": "team-organisation",
}
# Our export's "Excerpt kinds" codes (evidence/refi_qda/codebook.py): GUID -> ExcerptKind value.
EXCERPT_KIND_CODES = {guid("code", "excerpt-kind", value): value for value in ExcerptKind.values}


def file_name_of(file):
    from mechanisms.configuration_import import file_name_of as name_of

    return name_of(file)


def import_refi_qda(file, programme, user=None, dry_run=False, offsets="codepoints"):
    """Import a .qdpx project or .qdc codebook (a path, an uploaded file) into ``programme`` as
    ``user`` (None: the operator). Returns the ImportReport; nothing is written on a dry run or when
    any error was found. ``offsets``: "codepoints" (REFI-QDA's rule) or "utf16". Raises
    ProgrammeWriteRefused when ``user`` does not write in the programme, ValueError for an unknown
    ``offsets``, FileNotFoundError for a path that is not there."""
    from projects.membership import ProgrammeWriteRefused, can_write

    if offsets not in OFFSETS:
        raise ValueError(f"offsets must be one of {', '.join(OFFSETS)}, not {offsets!r}")
    report = ImportReport(file_name_of(file), dry_run=dry_run)
    if user is not None and not can_write(user, programme):
        raise ProgrammeWriteRefused(programme, (
            f"You do not write in the programme '{programme.slug}': only its evaluators and lead evaluators "
            "can import QDA projects into it. Ask its lead to add you as a member."
        ))
    try:
        project = reader.read(file, file_name=report.file_name if not isinstance(file, str) else None)
    except reader.Unreadable as error:
        report.error(error.where, error.field, error.value, error.reason)
        return report
    importer = _Importer(report, project, programme, user, offsets)
    return run_import(lambda report: importer.run(), report, user=user)


class _Writer(BulkWriter):
    """bulk_write for rows built from objects this import holds: a foreign key already attached (a
    code's parent, a coding's excerpt with its source) is not fetched again, so the model's clean()
    reads it without a query a row."""

    def _attach_related(self, instances, first_row):
        for field in self.foreign_keys:
            pending = [(offset, i) for offset, i in enumerate(instances) if not field.is_cached(i)]
            wanted = {getattr(i, field.attname) for _, i in pending} - {None}
            found = field.related_model._base_manager.in_bulk(wanted) if wanted else {}
            for offset, instance in pending:
                value = getattr(instance, field.attname)
                if value is None:
                    if not field.null:
                        raise RowError(self.model, first_row + offset, field.name, "This field cannot be null.")
                    continue
                if value not in found:
                    raise RowError(self.model, first_row + offset, field.name,
                                   f"No {field.related_model._meta.verbose_name} with id {value}.")
                setattr(instance, field.name, found[value])


def _lines_of(description):
    """{label: value} of "Label: value" lines (our export's descriptions)."""
    found = {}
    for line in (description or "").splitlines():
        label, sep, value = line.partition(": ")
        if sep and label and label not in found:
            found[label.strip()] = value.strip()
    return found


class _Importer:
    def __init__(self, report, project, programme, user, offsets):
        self.report = report
        self.project = project
        self.programme = programme
        self.user = user if user is not None and getattr(user, "is_authenticated", False) else None
        self.offsets = offsets
        self.reason = history_reason(report.file_name)
        self.ours = project.origin.strip() == ORIGIN
        self.variables = {v.guid: v for v in project.variables}

    # --- helpers

    def error(self, at, field, value, reason):
        self.report.error(at.where if hasattr(at, "where") else at, field, value, reason)

    def write(self, model, instances, elements):
        """bulk_write new rows; a broken rule is an error of the row's element (and stops the import)."""
        if not instances:
            return
        try:
            _Writer(model, change_reason=self.reason, user=self.user).write(instances)
        except RowError as error:
            self.error(elements[error.row - 1], error.field, "", error.message)
            raise ValidationError({}) from None

    def save(self, instance, at, changed=True):
        """Save an existing row (every rule and receiver run); a refusal is an error of its element."""
        if not changed:
            return True
        instance._change_reason = self.reason
        if hasattr(instance, "updated_by_id") and self.user is not None:
            instance.updated_by = self.user
        try:
            with transaction.atomic():
                instance.full_clean()
                instance.save()
        except ValidationError as error:
            self.report.validation_error(at.where, error)
            return False
        except PermissionDenied as error:
            self.error(at, "", "", str(getattr(error, "message", error)))
            return False
        return True

    def variable_key(self, value):
        key = _VARIABLE_KEYS.get(value.variable)
        if key is None and value.variable in self.variables:
            key = _VARIABLE_NAMES.get(self.variables[value.variable].name.strip().lower())
        return key

    # --- the run

    def run(self):
        project, report = self.project, self.report
        for where, field, value, reason in project.problems:
            report.error(where, field, value, reason)
        self.check_codes()
        self.check_sources()
        if report.errors:
            return
        self.users = self.import_users()
        self.codes = self.import_codes()
        if report.errors:
            return
        self.sources = self.import_sources()
        self.teams = self.import_teams()
        if report.errors:
            return
        self.excerpts = self.import_excerpts()
        if report.errors:
            return
        self.import_codings()
        self.import_memos()
        self.import_relations()
        self.link_memos_to_relations()
        self.note_what_has_no_place()

    # --- checks before any write

    def check_codes(self):
        seen = {}
        for code in self.project.codes:
            if code.guid and normalise_guid(code.guid) is None:
                self.error(code.at, "guid", code.at.guid_text, "not a GUID (8-4-4-4-12 hexadecimal digits): codes are "
                           "matched by GUID, so each needs one")
            elif code.guid in seen:
                self.error(code.at, "guid", code.at.guid_text, f"a second code with this GUID (the first: line {seen[code.guid]})")
            seen.setdefault(code.guid, code.at.line)
        self.code_guids = set(seen)
        for source in self.project.sources:
            for selection in source.selections:
                for coding in selection.codings:
                    self.check_coding(coding)
            for coding in source.codings:
                self.check_coding(coding)

    def check_coding(self, coding):
        if coding.code and coding.code not in self.code_guids:
            self.error(coding.at, "CodeRef targetGUID", coding.code, "no code of the project has this GUID")

    def check_sources(self):
        """Each selection's span in code points ((start, end) kept on the selection as ``span``)."""
        seen_sources = {}
        for source in self.project.sources:
            if source.kind != "TextSource":
                continue
            if source.guid in seen_sources:
                self.error(source.at, "guid", source.at.guid_text, f"a second source with this GUID (the first: line "
                           f"{seen_sources[source.guid]})")
            seen_sources.setdefault(source.guid, source.at.line)
            if source.text is None:
                continue
            positions = reader.Utf16Positions(source.text) if source.selections else None
            length = len(source.text)
            for selection in source.selections:
                selection.span = None
                start, end = selection.start, selection.end
                if start is None or end is None:
                    continue
                if self.offsets == "utf16":
                    start_cp, end_cp = positions.codepoint(start), positions.codepoint(end)
                    for name, raw, converted in (("startPosition", start, start_cp), ("endPosition", end, end_cp)):
                        if converted is None:
                            self.error(selection.at, name, raw, (
                                f"past the end of the text ({positions.length} UTF-16 units)" if raw > positions.length or raw < 0
                                else "falls between the two UTF-16 units of one character outside the Basic Multilingual Plane"))
                    if start_cp is None or end_cp is None:
                        continue
                    start, end = start_cp, end_cp
                if start < 0:
                    self.error(selection.at, "startPosition", selection.start, "a position cannot be negative")
                    continue
                if end > length:
                    reason = f"past the end of the text of '{source.name}' ({length} characters)"
                    if self.offsets == "codepoints" and positions.astral and end <= positions.length:
                        reason += (f"; counted as UTF-16 units (where a character outside the Basic Multilingual Plane "
                                   f"counts two) the text is {positions.length} long and the selection fits: import with "
                                   "--offsets utf16 (API: offsets=utf16) if the tool that wrote it counts so")
                    self.error(selection.at, "endPosition", selection.end, reason)
                    continue
                if start >= end:
                    if start == end:
                        selection.span = "empty"
                        continue
                    self.error(selection.at, "endPosition", selection.end,
                               f"before the start position {selection.start}")
                    continue
                selection.span = (start, end)

    # --- users

    def import_users(self):
        User = get_user_model()
        users = {}
        wanted = [u for u in self.project.users if u.guid]
        if not wanted:
            return users
        names = {(u.id or u.name).strip() for u in wanted} | {u.name.strip() for u in wanted}
        names.discard("")
        usernames = {_username(n) for n in names}
        existing = list(User.objects.filter(username__in=names | usernames))
        by_username = {u.username.lower(): u for u in existing}
        full_names = defaultdict(list)
        for candidate in User.objects.filter(first_name__in=[n.split(" ", 1)[0] for n in names]):
            full_names[candidate.get_full_name().strip().lower()].append(candidate)
        taken = set(User.objects.filter(username__in=[_username(n) for n in names]).values_list("username", flat=True))
        for user in wanted:
            label = user.name or user.id or user.guid
            match = (by_username.get((user.id or "").strip().lower()) or by_username.get(user.name.strip().lower())
                     or by_username.get(_username(user.id or user.name).lower()))
            if match is None and len(full_names.get(user.name.strip().lower(), [])) == 1:
                match = full_names[user.name.strip().lower()][0]
            if match is not None:
                users[user.guid] = match
                self.report.note(f"{user.at.where}: the user '{label}' is the existing account '{match.username}'")
                continue
            base = _username(user.id or user.name or f"qda-user-{user.guid[:8]}")
            username, n = base, 1
            while username.lower() in {t.lower() for t in taken} or (
                    n > 1 and User.objects.filter(username__iexact=username).exists()):
                n += 1
                username = f"{base[:140]}-{n}"
            taken.add(username)
            first, _, last = user.name.strip().partition(" ")
            account = User(username=username, first_name=first[:150], last_name=last[:150], is_active=False)
            account.set_unusable_password()
            account.save()
            users[user.guid] = account
            self.report.created("user", f"{username} (inactive, '{label}')", user.at.where)
        return users

    # --- codes

    def import_codes(self):
        report = self.report
        existing = {code.guid: code for code in Code.objects.filter(programme=self.programme)}
        by_guid = {}
        new_by_depth = defaultdict(list)
        for code in self.project.codes:
            colour = code.color if _COLOUR.match(code.color or "") else ""
            if code.color and not colour:
                report.note(f"{code.at.where}: colour {code.color!r} is not #RRGGBB; left out")
            parent = by_guid.get(code.parent) if code.parent else None
            values = {"name": (code.name.strip() or "(no name)")[:300], "description": code.description,
                      "colour": colour, "codable": code.codable, "order": code.order}
            row = existing.get(code.guid)
            if row is None:
                row = Code(programme=self.programme, guid=code.guid, parent=parent, created_by=self.user,
                           updated_by=self.user, **values)
                report.created("code", _code_label(code), code.at.where)
            else:
                row._changed = [name for name, value in values.items() if getattr(row, name) != value]
                # A parent new in this import has no key yet: it cannot be the stored one.
                if row.parent_id != (parent.pk if parent is not None else None) or (parent is not None and parent.pk is None):
                    row._changed.append("parent")
                for name, value in values.items():
                    setattr(row, name, value)
                report.updated("code", _code_label(code) + ("" if row._changed else " (unchanged)"), code.at.where)
            row._parent = parent
            new_by_depth[code.depth].append((row, code))
            by_guid[code.guid] = row
        # Depth by depth, so every parent has its key before its children are written.
        for depth in sorted(new_by_depth):
            rows = new_by_depth[depth]
            for row, code in rows:
                if row.pk is None:
                    row.parent = row._parent  # again, now that the parent has its key
                    continue
                row.parent = row._parent
                self.save(row, code.at, changed=bool(row._changed))
            new = [(row, code) for row, code in rows if row.pk is None]
            self.write(Code, [row for row, _ in new], [code.at for _, code in new])
        return by_guid

    # --- sources

    def source_kinds(self):
        kinds = list(SourceKind.objects.all())
        lookup = {}
        for kind in kinds:
            lookup.setdefault(kind.slug.lower(), kind)
            lookup.setdefault(kind.name.strip().lower(), kind)
        return lookup

    def default_kind(self, lookup):
        kind = lookup.get(DEFAULT_SOURCE_KIND)
        if kind is None:
            kind = SourceKind(slug=DEFAULT_SOURCE_KIND, name="Interview transcript",
                              description="A transcript of an evaluation interview or discussion.")
            kind._change_reason = self.reason
            kind.save()
            lookup[DEFAULT_SOURCE_KIND] = kind
            self.report.created("source kind", DEFAULT_SOURCE_KIND, self.project.file_name)
        return kind

    def import_sources(self):
        report = self.report
        text_sources = [s for s in self.project.sources if s.kind == "TextSource"]
        existing = {}
        for stored in Source.objects.filter(programme=self.programme):
            # A source our own export wrote has the GUID of its slug (evidence/refi_qda/schema.py).
            existing.setdefault(stored.qda_guid or source_guid(stored.slug), stored)
        kinds = self.source_kinds()
        found, new, new_at = {}, [], []
        slugs = _SlugMaker(Source, RESERVED_SOURCE_SLUGS, 120)
        for source in text_sources:
            if source.text is None or source.text == "":
                why = ("has an empty text" if source.text == "" else "has no text in the project")
                report.note(f"{source.at.where}: the source '{source.name}' {why}: not imported (a source of the "
                            f"knowledge base holds its text){'' if not source.selections else ''}")
                continue
            fields = self.source_fields(source, kinds)
            title = (" ".join(source.name.split()) or f"Source {source.guid[:8]}")[:500]
            row = existing.get(source.guid)
            if row is None:
                row = Source(programme=self.programme, title=title, full_text=source.text, qda_guid=_qda(source.guid),
                             slug=slugs.take(title), created_by=self.users.get(source.creating_user, self.user),
                             updated_by=self.user, extractor=_extractor(source), **fields)
                new.append(row)
                new_at.append(source.at)
                row._label = f"({title}, {len(source.text):,} characters from {source.text_from})"
            else:
                if row.full_text != source.text:
                    self.error(source.at, "text", source.text_from, f"differs from the text of the source '{row.slug}' "
                               "imported from it before: a source's text stays as it was once excerpts point into it; "
                               "import the project into another programme, or delete that source first")
                    continue
                values = {"title": title, **fields}
                changed = [name for name, value in values.items() if getattr(row, name) != value]
                for name, value in values.items():
                    setattr(row, name, value)
                self.save(row, source.at, changed=bool(changed))
                report.updated("source", f"{row.slug} ({title})" + ("" if changed else " (unchanged)"), source.at.where)
            found[source.guid] = row
        slugs.reserve_all()
        for row, at in zip(new, new_at):
            row.slug = slugs.final(row.slug)
            report.created("source", f"{row.slug} {row._label}", at.where)
        self.write(Source, new, new_at)
        return found

    def source_fields(self, source, kinds):
        values = {}
        kind = None
        for value in source.variables:
            key = self.variable_key(value)
            text = value.value.strip()
            if key == "source-kind" and text:
                kind = kinds.get(text.lower()) or kinds.get(slugify(text))
                if kind is None:
                    self.report.note(f"{value.at.where}: no source kind '{text}'; the source is an "
                                     f"{DEFAULT_SOURCE_KIND}")
            elif key == "source-date" and text:
                from datetime import date

                try:
                    values["date"] = date.fromisoformat(text[:10])
                except ValueError:
                    self.report.note(f"{value.at.where}: date {text!r} is not a date (YYYY-MM-DD); left out")
            elif key == "source-authors":
                values["authors"] = text[:500]
            elif key == "source-publisher":
                values["publisher"] = text[:300]
        values["kind"] = kind or self.default_kind(kinds)
        return values

    # --- cases -> teams

    def import_teams(self):
        from projects.models import Team

        report = self.report
        teams = {}
        if not self.project.cases:
            return teams
        stored = list(Team.objects.filter(programme=self.programme))
        by_guid = {t.qda_guid or _team_guid(t.slug): t for t in stored}
        by_name = {}
        for team in stored:
            by_name.setdefault(team.name.strip().lower(), team)
        short_names = {t.short_name.lower() for t in stored}
        slugs = _SlugMaker(Team, set(), 80)
        for case in self.project.cases:
            values = {}
            for value in case.variables:
                key = self.variable_key(value)
                if key == "team-short-name" and value.value.strip():
                    values["short_name"] = value.value.strip()[:80]
                elif key == "team-organisation" and value.value.strip():
                    values["organisation"] = value.value.strip()[:300]
            name = (" ".join(case.name.split()) or f"Case {case.guid[:8]}")[:300]
            team = by_guid.get(case.guid) or by_name.get(name.lower())
            if team is not None:
                changed = not team.qda_guid and _team_guid(team.slug) != case.guid and _qda(case.guid)
                if changed:
                    team.qda_guid = _qda(case.guid)
                if self.save(team, case.at, changed=bool(changed)):
                    report.updated("team", f"{team.slug} ({team.name})" + ("" if changed else " (unchanged)"), case.at.where)
                teams[case.guid] = team
                continue
            short_name = values.get("short_name") or name[:80]
            base, n = short_name, 1
            while short_name.lower() in short_names:
                n += 1
                short_name = f"{base[:75]} ({n})"
            short_names.add(short_name.lower())
            team = Team(programme=self.programme, name=name, short_name=short_name, slug=slugs.final(slugs.take(name)),
                        organisation=values.get("organisation", ""), objective=case.description, qda_guid=_qda(case.guid),
                        created_by=self.user, updated_by=self.user)
            if self.save(team, case.at):
                report.created("team", f"{team.slug} ({name})", case.at.where)
            teams[case.guid] = team
        return teams

    # --- selections -> excerpts

    def import_excerpts(self):
        report = self.report
        team_of = {}
        for case in self.project.cases:
            team = self.teams.get(case.guid)
            for ref in case.selection_refs:
                if team is not None and ref not in team_of:
                    team_of[ref] = team
        stored = defaultdict(dict)
        known_sources = [s for s in self.sources.values() if s.pk is not None]
        for excerpt in EvidenceExcerpt.objects.filter(source__in=[s.pk for s in known_sources]):
            stored[excerpt.source_id][excerpt.start, excerpt.end] = excerpt
        sources_by_pk = {s.pk: s for s in known_sources}
        excerpts = {}  # selection GUID -> excerpt
        new, new_at = [], []
        merged = 0
        empty = 0
        slugs = _SlugMaker(EvidenceExcerpt, set(), 120)
        total = sum(len(s.selections) for s in self.project.sources)
        done = 0
        for source in self.project.sources:
            row = self.sources.get(source.guid)
            spans = {}
            for selection in source.selections:
                done += 1
                if done % PROGRESS_EVERY == 0:
                    report.progress(done, total, "selections")
                if getattr(selection, "span", None) == "empty":
                    empty += 1
                    report.note(f"{selection.at.where}: an empty selection ({selection.start}–{selection.end}): "
                                "not imported")
                    continue
                if row is None or getattr(selection, "span", None) is None:
                    continue
                start, end = selection.span
                if (start, end) in spans:
                    excerpts[selection.guid] = spans[start, end][0]
                    merged += 1
                    report.note(f"{selection.at.where}: the same span ({start}–{end}) as the selection at line "
                                f"{spans[start, end][1].at.line}: one excerpt")
                    continue
                kind, section, attribution = self.excerpt_fields(selection)
                team = team_of.get(selection.guid)
                excerpt = stored.get(row.pk, {}).get((start, end)) if row.pk else None
                if excerpt is not None:
                    excerpt.source = sources_by_pk[row.pk]
                    values = {"kind": kind}
                    if team is not None:
                        values["team"] = team
                    if not excerpt.qda_guid and selection_guid(excerpt.slug) != selection.guid:
                        values["qda_guid"] = _qda(selection.guid)
                    changed = [n for n, v in values.items() if getattr(excerpt, n) != v]
                    for name, value in values.items():
                        setattr(excerpt, name, value)
                    self.save(excerpt, selection.at, changed=bool(changed))
                    report.updated("evidence excerpt", f"{excerpt.slug} ({start}–{end})" + ("" if changed else " (unchanged)"),
                                   selection.at.where)
                else:
                    coder = self.users.get(selection.creating_user, self.user)
                    excerpt = EvidenceExcerpt(
                        source=row, start=start, end=end, text=row.full_text[start:end], qda_guid=_qda(selection.guid),
                        slug=slugs.take(f"{row.slug[:90]}-{start}-{end}"), kind=kind, team=team, section=section,
                        attribution=attribution, created_by=coder, updated_by=self.user)
                    new.append(excerpt)
                    new_at.append(selection.at)
                spans[start, end] = (excerpt, selection)
                excerpts[selection.guid] = excerpt
        if merged:
            report.note(f"{merged} selection{'s' if merged != 1 else ''} with the same span as another in their source "
                        "became one excerpt with it")
        slugs.reserve_all()
        for excerpt, at in zip(new, new_at):
            excerpt.slug = slugs.final(excerpt.slug)
            report.created("evidence excerpt", f"{excerpt.slug} ({excerpt.source.slug} {excerpt.start}–{excerpt.end})",
                           at.where)
        self.write(EvidenceExcerpt, new, new_at)
        report.progress(total, total, "selections")
        return excerpts

    def excerpt_fields(self, selection):
        kind = ExcerptKind.PARTICIPANT_QUOTE
        for coding in selection.codings:
            if coding.code in EXCERPT_KIND_CODES:
                kind = EXCERPT_KIND_CODES[coding.code]
        section = attribution = ""
        if self.ours:
            lines = _lines_of(selection.description)
            section = lines.get("Section", "")[:500]
            attribution = lines.get("Attribution", "")[:300]
        return kind, section, attribution

    # --- codings

    def import_codings(self):
        report = self.report
        stored = set(Coding.objects.filter(code__programme=self.programme).values_list("excerpt_id", "code_id", "coder_id"))
        new, new_at, seen = [], [], set()
        again = 0
        for _, selection in self.project.selections():
            excerpt = self.excerpts.get(selection.guid)
            if excerpt is None:
                continue
            for coding in selection.codings:
                code = self.codes.get(coding.code)
                if code is None:
                    continue
                coder = self.users.get(coding.creating_user)
                key = (excerpt.pk, code.pk, coder.pk if coder else None)
                if key in seen:
                    again += 1
                    continue
                seen.add(key)
                label = f"{code.name} on {excerpt.slug}" + (f" by {coder.username}" if coder else "")
                if key in stored:
                    report.updated("coding", label + " (unchanged)", coding.at.where)
                    continue
                guid_value = normalise_guid(coding.guid or "") or new_guid()
                new.append(Coding(excerpt=excerpt, code=code, coder=coder, created=coding.created or timezone.now(),
                                  guid=guid_value, created_by=self.user, updated_by=self.user))
                new_at.append(coding.at)
                report.created("coding", label, coding.at.where)
        if again:
            report.note(f"{again} coding{'s' if again != 1 else ''} repeated a coding of the same excerpt with the same "
                        "code by the same coder (selections with one span): kept once")
        self.write(Coding, new, new_at)

    # --- notes -> memos

    def import_memos(self):
        report = self.report
        targets = defaultdict(lambda: {"codes": [], "excerpts": [], "sources": []})
        unplaced = Counter()
        for code in self.project.codes:
            for ref in code.note_refs:
                targets[ref]["codes"].append(self.codes.get(code.guid))
        for source in self.project.sources:
            for ref in source.note_refs:
                if source.guid in self.sources:
                    targets[ref]["sources"].append(self.sources[source.guid])
                else:
                    unplaced["a source not imported"] += 1
            for coding in source.codings:
                unplaced["a coding of a whole source"] += len(coding.note_refs)
            for selection in source.selections:
                excerpt = self.excerpts.get(selection.guid)
                for ref in selection.note_refs:
                    if excerpt is not None:
                        targets[ref]["excerpts"].append(excerpt)
                for coding in selection.codings:
                    for ref in coding.note_refs:
                        if excerpt is not None:
                            targets[ref]["excerpts"].append(excerpt)
                        if coding.code in self.codes:
                            targets[ref]["codes"].append(self.codes[coding.code])
        for case in self.project.cases:
            unplaced["a case"] += len(case.note_refs)
        unplaced["the project"] += len(self.project.note_refs)
        for what, count in unplaced.items():
            if count:
                report.note(f"{count} note reference{'s' if count != 1 else ''} from {what}: the note is a memo, "
                            "without that reference (a memo refers to codes, excerpts, sources and relations)")
        if not self.project.notes:
            return
        existing = {m.guid: m for m in Memo.objects.filter(programme=self.programme)}
        new, new_at, links = [], [], []
        for note in self.project.notes:
            guid_value = normalise_guid(note.guid or "")
            if guid_value is None:
                guid_value = new_guid()
                report.note(f"{note.at.where}: not a GUID; the memo has a new one ({guid_value})")
            memo = existing.get(guid_value)
            name = (note.name or "")[:300]
            wanted = targets.get(note.guid, {"codes": [], "excerpts": [], "sources": []})
            if memo is None:
                memo = Memo(programme=self.programme, guid=guid_value, name=name, text=note.text,
                            created_by=self.users.get(note.creating_user, self.user), updated_by=self.user)
                new.append(memo)
                new_at.append(note.at)
                report.created("memo", name or guid_value, note.at.where)
                links.append((memo, wanted))
            else:
                changed = (memo.name, memo.text) != (name, note.text)
                memo.name, memo.text = name, note.text
                self.save(memo, note.at, changed=changed)
                for relation in ("codes", "excerpts", "sources"):
                    rows = [row for row in wanted[relation] if row is not None]
                    getattr(memo, relation).add(*rows)
                report.updated("memo", (name or guid_value) + ("" if changed else " (unchanged)"), note.at.where)
        self.write(Memo, new, new_at)
        for relation, column in (("codes", "code_id"), ("excerpts", "evidenceexcerpt_id"), ("sources", "source_id")):
            through = getattr(Memo, relation).through
            rows = {(memo.pk, row.pk) for memo, wanted in links for row in wanted[relation] if row is not None}
            through.objects.bulk_create([through(memo_id=memo_pk, **{column: pk}) for memo_pk, pk in sorted(rows)])

    # --- links -> relations

    def import_relations(self):
        report = self.report
        if not self.project.links:
            return
        existing = {r.guid: r for r in Relation.objects.filter(programme=self.programme)}
        directions = {d.value.lower(): d.value for d in Relation.Direction}
        new, new_at = [], []
        unplaced = 0
        for link in self.project.links:
            ends = {}
            for end, ref in (("origin", link.origin), ("target", link.target)):
                if ref in self.codes:
                    ends[f"{end}_code"] = self.codes[ref]
                elif ref in self.excerpts:
                    ends[f"{end}_excerpt"] = self.excerpts[ref]
            if len(ends) != 2:
                unplaced += 1
                report.note(f"{link.at.where}: a link '{link.name}' whose ends are not both codes or selections "
                            "(a relation joins codes and excerpts): not imported")
                continue
            direction = directions.get(link.direction.strip().lower(), Relation.Direction.ASSOCIATIVE)
            if link.direction and link.direction.strip().lower() not in directions:
                report.note(f"{link.at.where}: direction {link.direction!r} read as Associative")
            colour = link.color if _COLOUR.match(link.color or "") else ""
            guid_value = normalise_guid(link.guid or "") or new_guid()
            values = {"name": (link.name or "")[:300], "direction": direction, "colour": colour,
                      "origin_code": None, "origin_excerpt": None, "target_code": None, "target_excerpt": None, **ends}
            relation = existing.get(guid_value)
            if relation is None:
                relation = Relation(programme=self.programme, guid=guid_value, created_by=self.user, updated_by=self.user,
                                    **values)
                new.append(relation)
                new_at.append(link.at)
                report.created("relation", link.name or guid_value, link.at.where)
            else:
                changed = [n for n, v in values.items() if getattr(relation, n) != v]
                for name, value in values.items():
                    setattr(relation, name, value)
                self.save(relation, link.at, changed=bool(changed))
                report.updated("relation", (link.name or guid_value) + ("" if changed else " (unchanged)"), link.at.where)
        self.write(Relation, new, new_at)

    def link_memos_to_relations(self):
        """A <Link>'s NoteRefs: the memos (notes) about the relation it became (after both exist)."""
        refs = [(normalise_guid(link.guid or ""), normalise_guid(ref or "")) for link in self.project.links
                for ref in link.note_refs]
        if not refs:
            return
        relations = dict(Relation.objects.filter(programme=self.programme).values_list("guid", "pk"))
        memos = dict(Memo.objects.filter(programme=self.programme).values_list("guid", "pk"))
        through = Memo.relations.through
        stored = set(through.objects.filter(memo__programme=self.programme).values_list("memo_id", "relation_id"))
        wanted, missing = set(), 0
        for link_guid, memo_guid in refs:
            if link_guid in relations and memo_guid in memos:
                wanted.add((memos[memo_guid], relations[link_guid]))
            else:
                missing += 1
        through.objects.bulk_create([through(memo_id=memo, relation_id=relation)
                                     for memo, relation in sorted(wanted - stored)])
        if missing:
            self.report.note(f"{missing} note reference{'s' if missing != 1 else ''} from links not imported or to "
                             "notes not in the project: left out")

    # --- what has no place

    def note_what_has_no_place(self):
        project, report = self.project, self.report

        def count(n, one, many=None):
            return f"{n} {one if n == 1 else (many or one + 's')}"

        if project.is_codebook:
            report.note(f"A codebook ({project.file_name}): {count(len(project.codes), 'code')}, no sources")
        elif not project.sources:
            report.note("The project has no sources: only its codes (and what refers to them) came in")
        if project.sets:
            members = sum(len(s.codes) + len(s.sources) + len(s.notes) for s in project.sets)
            report.note(f"{count(len(project.sets), 'set')} ({count(members, 'member')}) not imported: the knowledge "
                        "base has no sets (" + ", ".join(s.name for s in project.sets[:5])
                        + (", …" if len(project.sets) > 5 else "") + ")")
        used = {"source-kind", "source-date", "source-authors", "source-publisher", "team-short-name", "team-organisation"}
        other = Counter()
        for holder in (*project.sources, *project.cases):
            for value in holder.variables:
                key = self.variable_key(value)
                if key not in used:
                    variable = self.variables.get(value.variable)
                    other[variable.name if variable else value.variable] += 1
        for name, n in other.items():
            report.note(f"{count(n, 'value')} of the variable '{name}' not imported: no field holds it")
        unused = [v.name for v in project.variables
                  if not any(self.variable_key(x) in used for h in (*project.sources, *project.cases)
                             for x in h.variables if x.variable == v.guid)
                  and v.name not in other]
        if unused:
            report.note(f"{count(len(unused), 'variable')} without values: " + ", ".join(unused))
        kinds = Counter(s.kind for s in project.sources if s.kind != "TextSource")
        for kind, n in kinds.items():
            selections = sum(s.other_selections for s in project.sources if s.kind == kind)
            report.note(f"{count(n, kind)} ({count(selections, 'selection')}) not imported: the knowledge base holds "
                        "text sources only")
        whole = sum(len(s.codings) for s in project.sources)
        if whole:
            report.note(f"{count(whole, 'coding')} of whole sources not imported: a coding applies to an excerpt")
        refs = Counter()
        for case in project.cases:
            refs["code"] += len(case.code_refs)
            refs["source"] += len(case.source_refs)
        lost = sum(1 for case in project.cases for ref in case.selection_refs if ref not in self.excerpts)
        if lost:
            report.note(f"{count(lost, 'case reference')} to selections that are no excerpt here (of a non-text or "
                        "empty source, or unknown): no team set by them")
        known_users = {user.guid for user in project.users}
        strangers = Counter(selection.creating_user for _, selection in project.selections()
                            if selection.creating_user and selection.creating_user not in known_users)
        if strangers:
            report.note(f"{count(sum(strangers.values()), 'selection')} name a creatingUser the project's <Users> "
                        f"lack ({', '.join(sorted(strangers)[:3])}): their codings have no coder")
        for what, n in refs.items():
            if n:
                report.note(f"{count(n, 'case reference')} to a {what} not imported: a team holds excerpts only")
        if project.graphs:
            report.note(f"{count(project.graphs, 'graph')} not imported: the knowledge base has no graphs")
        for tag, n in project.unknown.items():
            report.note(f"{count(n, f'<{tag}> element')} not imported: not part of REFI-QDA 1.0")
        if project.unnamed_files:
            report.note(f"{count(len(project.unnamed_files), 'file')} in the archive that the project does not name, "
                        "ignored: " + ", ".join(project.unnamed_files[:10]))
        if project.description.strip():
            report.note("The project's description is not imported: " + project.description.strip()[:200])


def _team_guid(slug):
    """The case GUID our own export gives a team (evidence/refi_qda/project.py)."""
    return guid("case", "team", slug)


def _code_label(code):
    return f"{code.name or '(no name)'} [{code.guid}]"


def _qda(value):
    value = value or ""
    return value if len(value) <= 36 else ""


def _extractor(source):
    return "REFI-QDA project" if not source.text_from.endswith("(extracted)") else "REFI-QDA project (rich text)"


def _username(text):
    """A username from a REFI-QDA user's id or name: Django's username characters only."""
    cleaned = re.sub(r"[^\w.@+-]+", ".", text.strip().lower()).strip(".")
    return (cleaned or "qda-user")[:150]


class _SlugMaker:
    """Unique slugs for many new rows in one query a batch: ``take`` proposes one, ``reserve_all``
    reads which of the proposals the database has already, ``final`` gives each its unique form
    (one more query only for a base not proposed before ``reserve_all``, or a suffixed form that
    is stored already)."""

    def __init__(self, model, reserved, max_length):
        self.model, self.reserved, self.max_length = model, set(reserved), max_length
        self.proposed = []
        self.checked, self.taken, self.given = set(), set(reserved), set()

    def take(self, text):
        base = (slugify(text) or "row")[: self.max_length - 6].strip("-") or "row"
        self.proposed.append(base)
        return base

    def reserve_all(self):
        names = sorted(set(self.proposed) - self.checked)
        for start in range(0, len(names), 500):
            chunk = names[start:start + 500]
            self.taken |= set(self.model._base_manager.filter(slug__in=chunk).values_list("slug", flat=True))
        self.checked.update(names)
        self.proposed = []

    def _stored(self, slug):
        if slug not in self.checked:
            self.checked.add(slug)
            if self.model._base_manager.filter(slug=slug).exists():
                self.taken.add(slug)
        return slug in self.taken

    def final(self, base):
        slug, n = base, 1
        while slug in self.given or self._stored(slug):
            n += 1
            slug = f"{base}-{n}"
        self.given.add(slug)
        return slug
