"""Step 3: apply the validated entries in dependency order inside one transaction, comparing each
with the database and with what the loader last applied (projects.SeedRecord)."""

import datetime
import decimal
import hashlib
from collections import defaultdict
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.signals import post_save
from simple_history.models import HistoricalRecords

from evidence.bulk_write import BulkWriter, RowError
from evidence.models import EvidenceLink, Source
from mechanisms.models import CMOConfiguration, ConfigurationChain, ConfigurationPathway, WishShift
from mechanisms.theories import ProgrammeTheory, TheoryVersion, TheoryVersionEntry
from projects.models import SeedRecord, TeamQualityDomain, TeamRelationshipLevel

from .schema import CHAIN_ARROW, CHANGE_REASON, SECTION_BY_NAME, SECTIONS, SeedError
from .validation import Fixtures, _decimal_text, fingerprint

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
            self.ids[section_name] = dict(self._rows(model).values_list("slug", "pk"))
        return self.ids[section_name]

    # The corpus is one programme's (the fixture's programme, `ctg`): the terms a programme owns are
    # looked up and written within it, so another programme's `leadership` context is not this one's.

    def _home_programme_id(self):
        if getattr(self, "_home_id", None) is None:
            slugs = list(self.fx.entries["programmes"])
            if len(slugs) == 1:
                self._home_id = self._ids("programmes").get(slugs[0])
            else:
                from projects.models import Programme

                self._home_id = Programme.objects.filter(slug="ctg").values_list("pk", flat=True).first()
        return self._home_id

    @staticmethod
    def _owned(model):
        return getattr(model, "programme_path", None) == "programme"

    def _rows(self, model):
        rows = model.objects.all()
        return rows.filter(programme_id=self._home_programme_id()) if self._owned(model) else rows

    def _place(self, instance):
        """A row the programme owns, with no programme named in the fixture, goes to the home programme."""
        if self._owned(type(instance)) and instance.programme_id is None:
            instance.programme_id = self._home_programme_id()

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
            self._flush_new_rows(section)

    # New excerpts, the bulk of a corpus, are written together (evidence/bulk_write.py: every model
    # rule checked in bulk, rows and history rows in batches) rather than saved one by one.
    BULK_SECTIONS = ("excerpts",)

    def _flush_new_rows(self, section):
        pending = getattr(self, "_pending", {}).pop(section.name, None)
        if not pending:
            return
        entries = [entry for entry, _ in pending]
        try:
            BulkWriter(section.model, change_reason=CHANGE_REASON).write([instance for _, instance in pending])
        except RowError as error:
            raise SeedError([entries[error.row - 1].where(error.field, error.message)]) from error
        ids = self._ids(section.name)
        for entry, instance in pending:
            ids[entry.slug] = instance.pk
        SeedRecord.objects.bulk_create(self._pending_records.pop(section.name, []))

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
        section = getattr(self, "_pending_section", None)
        if record is None and section is not None:
            # Its row is still pending (_flush_new_rows writes both).
            self._pending_section = None
            self.records[(label, key)] = new = SeedRecord(model=label, key=key, values=value, fingerprint=fp)
            self._pending_records.setdefault(section, []).append(new)
        elif record is None:
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
        if name == "chains":
            return self._current_chains()
        if name == "theories":
            return self._current_theories()
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
        for row in self._rows(model).values(*columns):
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
                links = through.objects.values_list(f"{src}__slug", f"{dst}__slug")
                if self._owned(model):
                    links = links.filter(**{f"{src}__programme_id": self._home_programme_id()})
                for a, b in links:
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
        scalar = ["title", "activity", "resource", "reasoning", "effect", "statement", "influence", "confidence", "status", "notes"]
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

    def _current_chains(self):
        """The home programme's chain links, keyed "<from> → <to>" as the fixtures key them. Two queries."""
        rows = {}
        links = ConfigurationChain.objects.filter(from_configuration__programme_id=self._home_programme_id())
        for pk, origin, target, note in links.values_list("pk", "from_configuration__slug", "to_configuration__slug", "note"):
            rows[pk] = (origin + CHAIN_ARROW + target, {"from": origin, "to": target, "note": note, "evidence": []})
        rel = ConfigurationChain.evidence
        src, dst = rel.field.m2m_field_name(), rel.field.m2m_reverse_field_name()
        for link, excerpt in rel.through.objects.filter(**{f"{src}_id__in": list(rows)}).values_list(f"{src}_id", f"{dst}__slug"):
            rows[link][1]["evidence"].append(excerpt)
        for _, value in rows.values():
            value["evidence"].sort()
        return dict(rows.values())

    # -- writing ---------------------------------------------------------------------------------

    def write(self, section, entry, current):
        self._current_entry = entry
        try:
            if section.name == "team_links":
                self._write_team_links(entry)
            elif section.name == "configurations":
                self._write_configuration(entry, created=current is None)
            elif section.name == "chains":
                self._write_chain(entry, created=current is None)
            elif section.name == "theories":
                self._write_theory(entry, created=current is None)
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
        instance = model(slug=entry.slug) if created else self._rows(model).get(slug=entry.slug)
        self._assign(section, instance, entry.value)
        self._place(instance)
        if section.name == "sources":
            instance.full_text = self.fx.source_texts[entry.slug]
        if section.name == "excerpts":
            source = self._sources_by_id().get(instance.source_id)
            if source is not None:
                instance.source = source  # reuse one Source object: save() re-checks the span against it
        m2m = [f for f in section.fields if f.kind == "refs"]
        self._mark(instance)
        if created and not m2m and section.name in self.BULK_SECTIONS:
            if not hasattr(self, "_pending"):
                self._pending, self._pending_records = {}, {}
            self._pending.setdefault(section.name, []).append((self._current_entry, instance))
            self._pending_section = section.name
            return
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
        self._place(instance)
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

    def _write_chain(self, entry, created):
        value = entry.value
        ends = {"from_configuration_id": self._id("configurations", value["from"]),
                "to_configuration_id": self._id("configurations", value["to"])}
        instance = ConfigurationChain(**ends) if created else ConfigurationChain.objects.get(**ends)
        instance.note = value["note"]
        self._mark(instance)
        try:
            # save() runs the model's clean(): a link to itself, across programmes, or closing a cycle
            # (with the links already in the database or written before it) is refused there.
            self._save_with_m2m(instance, created, {"evidence": self._ids_for("excerpts", value["evidence"])})
        except ValidationError as exc:
            raise SeedError([entry.where("to", " ".join(exc.messages))]) from exc

    # -- programme theories (mechanisms/theories.py): a theory, its versions and their entries --------

    def _current_theories(self):
        rows = {}
        for row in self._rows(ProgrammeTheory).values("pk", "slug", "programme__slug", "name", "description"):
            rows[row["slug"]] = {"programme": row["programme__slug"], "name": row["name"],
                                 "description": row["description"], "versions": [], "_pk": row["pk"]}
        by_pk = {value.pop("_pk"): value for value in rows.values()}
        versions = {}
        for v in TheoryVersion.objects.filter(theory_id__in=by_pk).values(
                "pk", "theory_id", "number", "label", "date", "prompted_by_wave__slug", "prompted_by_source__slug",
                "summary", "status"):
            versions[v["pk"]] = value = {
                "number": v["number"], "label": v["label"], "date": v["date"].isoformat() if v["date"] else None,
                "prompted_by_wave": v["prompted_by_wave__slug"], "prompted_by_source": v["prompted_by_source__slug"],
                "summary": v["summary"], "status": v["status"], "entries": []}
            by_pk[v["theory_id"]]["versions"].append(value)
        entries = {}
        for e in TheoryVersionEntry.objects.filter(version_id__in=versions).values(
                "pk", "version_id", "configuration__slug", "verdict", "replaced_by__slug", "note"):
            entries[e["pk"]] = value = {"configuration": e["configuration__slug"], "verdict": e["verdict"],
                                        "replaced_by": e["replaced_by__slug"], "note": e["note"], "evidence": []}
            versions[e["version_id"]]["entries"].append(value)
        through = TheoryVersionEntry.evidence.through
        for entry_id, slug in through.objects.filter(theoryversionentry_id__in=entries).values_list(
                "theoryversionentry_id", "evidenceexcerpt__slug"):
            entries[entry_id]["evidence"].append(slug)
        # Sorted as the fixture's records are (validation: by their keys, as text).
        for value in rows.values():
            value["versions"].sort(key=lambda v: str(v["number"]))
            for version in value["versions"]:
                version["entries"].sort(key=lambda e: str(e["configuration"]))
                for item in version["entries"]:
                    item["evidence"].sort()
        return rows

    def _write_theory(self, entry, created):
        section = SECTION_BY_NAME["theories"]
        value = entry.value
        theory = ProgrammeTheory(slug=entry.slug) if created else self._rows(ProgrammeTheory).get(slug=entry.slug)
        self._assign(section, theory, value)
        self._place(theory)
        self._mark(theory).save()
        wanted_versions = {v["number"]: v for v in value["versions"]}
        for version in TheoryVersion.objects.filter(theory=theory):
            if version.number not in wanted_versions:
                self._mark(version).delete()
        for number, want in wanted_versions.items():
            version = TheoryVersion.objects.filter(theory=theory, number=number).first() or TheoryVersion(theory=theory, number=number)
            fields = {
                "label": want["label"], "summary": want["summary"], "status": want["status"],
                "date": datetime.date.fromisoformat(want["date"]) if want["date"] else None,
                "prompted_by_wave_id": self._id("waves", want["prompted_by_wave"]),
                "prompted_by_source_id": self._id("sources", want["prompted_by_source"]),
            }
            if version.pk is None or any(getattr(version, k) != v for k, v in fields.items()):
                for k, v in fields.items():
                    setattr(version, k, v)
                self._mark(version).save()
            wanted_entries = {self._id("configurations", e["configuration"]): e for e in want["entries"]}
            existing = {row.configuration_id: row for row in TheoryVersionEntry.objects.filter(version=version)}
            for configuration_id, row in existing.items():
                if configuration_id not in wanted_entries:
                    self._mark(row).delete()
            for configuration_id, item in wanted_entries.items():
                row = existing.get(configuration_id)
                fields = {"verdict": item["verdict"], "note": item["note"],
                          "replaced_by_id": self._id("configurations", item["replaced_by"])}
                created_row = row is None
                if created_row:
                    row = TheoryVersionEntry(version=version, configuration_id=configuration_id)
                if created_row or any(getattr(row, k) != v for k, v in fields.items()):
                    for k, v in fields.items():
                        setattr(row, k, v)
                    self._mark(row).save()
                evidence = set(self._ids_for("excerpts", item["evidence"]))
                if created_row or set(row.evidence.values_list("pk", flat=True)) != evidence:
                    row.evidence.set(evidence)
        if created:
            self._ids("theories")[entry.slug] = theory.pk


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
