"""Step 1: read every fixtures/ctg/**/*.yaml file and gather its entries by section, and read each
source's text file. Only files inside the fixtures directory are read."""

import hashlib
from dataclasses import dataclass

import yaml

from .schema import NESTED_CHILDREN, SECTION_BY_NAME, TOP_LEVEL_SECTIONS, VOCABULARY_SECTIONS, Section

try:  # libyaml's loader is several times faster on the full corpus
    _YamlLoader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _YamlLoader = yaml.SafeLoader



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


class FixtureReader:
    """Reading half of seed.validation.Fixtures: fills self.entries and self.source_texts, and
    reports into self.problems."""

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

    def _read_source_text(self, entry):
        path = self.root / (entry.value.get("text_file") or "")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.problems.append(entry.where("text_file", f"cannot read {path} as UTF-8: {exc}"))
            return
        self.source_texts[entry.slug] = text
        entry.value["full_text_sha256"] = hashlib.sha256(text.encode("utf-8")).hexdigest()
