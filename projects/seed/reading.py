"""Step 1: read every fixtures/ctg/**/*.yaml file and gather its entries by section, and read each
source's text file. Only files inside the fixtures directory are read."""

import hashlib
from dataclasses import dataclass

import yaml

from .schema import CHAIN_ARROW, NESTED_CHILDREN, SECTION_BY_NAME, TOP_LEVEL_SECTIONS, VOCABULARY_SECTIONS, Section

try:  # libyaml's loader is several times faster on the full corpus
    _YamlLoader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _YamlLoader = yaml.SafeLoader

_MERGE_TAG = "tag:yaml.org,2002:merge"


class DuplicateKeyError(yaml.YAMLError):
    def __init__(self, key, line, first_line):
        self.key, self.line, self.first_line = key, line, first_line
        super().__init__(f"duplicate key {key!r} at line {line} (first at line {first_line})")


class UniqueKeyLoader(_YamlLoader):
    """The safe loader, refusing a key written twice in one mapping: PyYAML silently keeps the last,
    so the first value (a second `text:` of an excerpt, a repeated slug key) would vanish unseen.
    Keys a merge (<<) brings in may still be overridden, as YAML intends."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
                    continue
                key = self.construct_object(key_node, deep=deep)
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise DuplicateKeyError(key, line, seen[key])
                seen[key] = line
        return super().construct_mapping(node, deep)


def read_yaml(text):
    return yaml.load(text, Loader=UniqueKeyLoader)



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
            outside = self._outside(path)
            if outside:
                self.problems.append(f"{name}: {outside}")
                self.unreadable = True
                continue
            try:
                data = read_yaml(path.read_text(encoding="utf-8"))
            except DuplicateKeyError as exc:
                self.problems.append(
                    f"{name}: line {exc.line}: the key {exc.key!r} is written twice in one mapping (first at line "
                    f"{exc.first_line}); YAML would keep only the last value. Remove or rename one."
                )
                self.unreadable = True
                continue
            except (yaml.YAMLError, UnicodeDecodeError) as exc:
                self.problems.append(f"{name}: not valid UTF-8 YAML: {exc}")
                self.unreadable = True
                continue
            if data is None or data == {}:
                # An empty file is a lost file's content more often than an intended one: say so.
                self.problems.append(f"{name}: the file is empty; it must hold at least one section (or be removed).")
                self.unreadable = True
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
            slug = self._key(section, raw) if section.key else raw.get("slug")
            if not isinstance(slug, str) or not slug:
                missing = " and ".join(section.key) if section.key else "slug"
                self.problems.append(entry.where(missing, f"entry {index + 1} has no {missing}."))
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
                what = "entry" if section.key else "slug"
                self.problems.append(
                    entry.where(None, f"duplicate {what} '{slug}': also defined in {existing.file}.")
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

    @staticmethod
    def _key(section, raw):
        """The natural key of an entry without a slug (a chain link: "<from> → <to>"), or None when a
        part is missing."""
        parts = [raw.get(name) for name in section.key]
        if not all(isinstance(part, str) and part for part in parts):
            return None
        return CHAIN_ARROW.join(parts)

    def _outside(self, path):
        """Why ``path`` may not be read (it resolves, symlinks followed, outside the fixtures
        directory), or None. A fixture is data from a curator's pull request: `text_file:
        ../../../etc/hostname` must not put a server file into a public source."""
        root = self.root.resolve()
        try:
            resolved = path.resolve()
        except (OSError, RuntimeError) as exc:  # a symlink loop
            return f"cannot resolve the path: {exc}"
        if not resolved.is_relative_to(root):
            return f"resolves to {resolved}, outside the fixtures directory {root}; only files inside it are read."
        return None

    def _read_source_text(self, entry):
        name = entry.value.get("text_file")
        if not name:
            return  # reported as required
        path = self.root / name
        outside = self._outside(path)
        if outside:
            self.problems.append(entry.where("text_file", f"{name!r} {outside}"))
            return
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.problems.append(entry.where("text_file", f"cannot read {name!r} as UTF-8: {exc}"))
            return
        if not text.strip():
            self.problems.append(entry.where("text_file", f"{name!r} is empty: a source needs its full text."))
            return
        self.source_texts[entry.slug] = text
        entry.value["full_text_sha256"] = hashlib.sha256(text.encode("utf-8")).hexdigest()
