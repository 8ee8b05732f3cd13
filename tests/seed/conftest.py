"""Load the full CtG corpus once per test module: loading it per test would take ~1 s each.

The module fixture opens a transaction around the load and rolls it back at the end of the module,
so other modules start from an empty database. Each test's own `db` transaction nests inside it as
a savepoint, so what one test changes is undone before the next.
"""

import io
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.db import transaction


@pytest.fixture(scope="module")
def ctg(django_db_setup, django_db_blocker):
    """The output of the first `load_ctg` on an empty database (the corpus stays loaded for the module)."""
    with django_db_blocker.unblock():
        with transaction.atomic():
            out = io.StringIO()
            call_command("load_ctg", stdout=out)
            yield out.getvalue()
            transaction.set_rollback(True)




CTG = Path(__file__).resolve().parents[2] / "fixtures" / "ctg"


@pytest.fixture(scope="module")
def defined():
    """Every slug defined anywhere under fixtures/ctg, read from the YAML (not the database).

    A set of slugs per section, vocabularies flattened (`teams`, `mechanisms`, `speaker_roles`...), and
    the nested `themes`, `poles` and `concepts`; plus lookups: `theme_of` (theme -> mechanism),
    `pole_of` (pole -> Wish dimension), `excerpt` (slug -> its entry) and `_files` ((section, slug) ->
    the files that define it, to find a slug defined twice).
    """
    out = {"theme_of": {}, "pole_of": {}, "excerpt": {}}
    files = {}
    for path in sorted(CTG.rglob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for section, value in data.items():
            groups = value.items() if section == "vocabularies" else [(section, value)]
            for name, entries in groups:
                for entry in entries or []:
                    if "slug" not in entry:
                        continue  # a chain link is keyed by its pair, not a slug
                    out.setdefault(name, set()).add(entry["slug"])
                    files.setdefault((name, entry["slug"]), []).append(path.name)
                    for nested in ("themes", "poles", "concepts"):
                        for sub in entry.get(nested) or []:
                            out.setdefault(nested, set()).add(sub["slug"])
                    if name == "excerpts":
                        out["excerpt"][entry["slug"]] = entry
                    if name == "mechanisms":
                        for theme in entry.get("themes") or []:
                            out["theme_of"][theme["slug"]] = entry["slug"]
                    if name == "wish_dimensions":
                        for pole in entry.get("poles") or []:
                            out["pole_of"][pole["slug"]] = entry["slug"]
    out["_files"] = files
    return out
