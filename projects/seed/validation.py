"""Step 2: validate everything before writing anything: unknown sections and keys, missing required
fields, bad choices, duplicate slugs across files, references to slugs no fixture defines, excerpts
whose text is not exactly the source text between their offsets."""

import datetime
import decimal
import hashlib
import json
from collections import defaultdict
from pathlib import Path

from .reading import FixtureReader
from .schema import SECTIONS, SeedError


def _canon(value):
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def fingerprint(value):
    return hashlib.sha256(_canon(value).encode("utf-8")).hexdigest()


def _decimal_text(value):
    return str(decimal.Decimal(str(value)).quantize(decimal.Decimal("0.01")))


class Fixtures(FixtureReader):
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
        if kind == "bool":
            if not isinstance(raw, bool):
                problem(f"must be true or false, not {raw!r}.")
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
        for entry in self.entries["theories"].values():
            for v_index, version in enumerate(entry.value.get("versions") or []):
                for e_index, item in enumerate(version.get("entries") or []):
                    where = f"versions[{v_index + 1}].entries[{e_index + 1}].replaced_by"
                    if item.get("verdict") == "refined" and not item.get("replaced_by"):
                        self.problems.append(entry.where(where, "required when the verdict is refined."))
                    elif item.get("verdict") != "refined" and item.get("replaced_by"):
                        self.problems.append(entry.where(where, "only a refined configuration is replaced."))
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
